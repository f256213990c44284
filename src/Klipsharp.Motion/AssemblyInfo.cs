using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Klipsharp.Motion.Tests")]
