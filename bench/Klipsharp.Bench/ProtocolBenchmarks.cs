using BenchmarkDotNet.Attributes;
using Klipsharp.Protocol;

namespace Klipsharp.Bench;

/// <summary>Encoding queue_step commands into message blocks (the per-step-message cost on the wire).</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private readonly byte[] _buffer = new byte[64];
    private readonly long[] _args = [2, 40000, 20, -3];
    private MessageFormat _queueStep = null!;
    private MessageBlockWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        string dict = Path.Combine(FindRoot(), "..", "shared", "golden", "dict", "atmega2560.dict");
        _queueStep = DataDictionary.Load(dict).LookupCommand("queue_step oid=%c interval=%u count=%hu add=%hi");
        _writer = new MessageBlockWriter(Stream.Null);
    }

    [Benchmark(OperationsPerInvoke = 1000)]
    public void EncodeQueueStep()
    {
        for (int i = 0; i < 1000; i++)
        {
            _args[1] = 40000 + i;
            int len = _queueStep.Encode(_buffer, _args);
            _writer.Add(_buffer.AsSpan(0, len));
        }
    }

    internal static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Klipsharp.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Klipsharp.sln not found");
    }
}
