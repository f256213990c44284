using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Klipsharp.Motion.Tests")]
[assembly: InternalsVisibleTo("Klipsharp.Bench")]
