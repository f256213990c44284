using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Klipsharp.SimMcu.Tests")]
