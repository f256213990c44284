using Klipsharp.Host.Serial;

namespace Klipsharp.Host.Tests.Serial;

/// <summary>
/// The connection-level behaviour of upstream's Linux-process MCU (<c>src/linux</c>, as
/// built from its linuxprocess test config), on top of <see cref="FakeMcu"/>'s block
/// handling: its message ids (several negative) and formats, a 50 MHz clock, the
/// <c>starting</c> message at boot, get_config/allocate_oids/finalize_config, emergency_stop
/// answered by a <c>shutdown</c> message, and config_reset that (only when shut down)
/// re-executes the process: the link ends at once, without an ack, and a new process with
/// a fresh, unconfigured state answers on the next open.
/// </summary>
internal sealed class FakeLinuxMcu : IDisposable
{
    // The ids and formats of the real firmware's dictionary (a subset)
    public const string Dictionary = """
        {
          "version": "fake-linux", "build_versions": "test",
          "commands": {
            "identify offset=%u count=%c": 1,
            "clear_shutdown": 2,
            "emergency_stop": 3,
            "get_uptime": 4,
            "get_clock": 5,
            "finalize_config crc=%u": 6,
            "get_config": 7,
            "allocate_oids count=%c": 8,
            "config_reset": -16
          },
          "responses": {
            "identify_response offset=%u data=%.*s": 0,
            "starting": -10,
            "is_shutdown static_string_id=%hu": -9,
            "shutdown clock=%u static_string_id=%hu": -8,
            "stats count=%u sum=%u sumsq=%u": -7,
            "uptime high=%u clock=%u": -6,
            "clock clock=%u": -5,
            "config is_config=%c crc=%u is_shutdown=%c move_count=%hu": -4
          },
          "enumerations": {
            "static_string_id": {
              "Shutdown cleared when not shutdown": 2, "Command request": 8,
              "config_reset only available when shutdown": 9
            }
          },
          "config": {
            "ADC_MAX": 4095, "CLOCK_FREQ": 50000000, "MCU": "linux", "PWM_MAX": 32768,
            "STATS_SUMSQ_BASE": 256, "STEPPER_STEP_BOTH_EDGE": 1
          }
        }
        """;

    private readonly long _clockOffset;
    private readonly object _lock = new();
    private readonly List<string> _commands = new();
    private readonly List<FakeMcu> _links = new();
    private bool _isConfig, _isShutdown, _started;
    private long _crc;
    private DateTime _discardUntil;

    /// <param name="clockOffset">The MCU clock when this process image started.</param>
    public FakeLinuxMcu(long clockOffset) => _clockOffset = clockOffset;

    private readonly long _startTicks = System.Diagnostics.Stopwatch.GetTimestamp();

    // The image's clock now: each link's FakeMcu counts from its own creation
    private long ClockNow() =>
        _clockOffset + (long)(System.Diagnostics.Stopwatch.GetElapsedTime(_startTicks).TotalSeconds * 50000000.0);

    /// <summary>
    /// Models a process that is not scheduled for a while after it shut down (a loaded
    /// machine): whatever the host sends in the next 100 ms lands in the same read as the
    /// emergency_stop and is lost when the shutdown unwinds the command loop.
    /// </summary>
    public bool StallsAtShutdown { get; set; }

    /// <summary>Set when config_reset re-executed the process.</summary>
    public bool Reexecuted { get; private set; }

    /// <summary>The commands received (by name), in order, over every link.</summary>
    public List<string> Commands
    {
        get
        {
            lock (_lock)
                return _commands.ToList();
        }
    }

    public bool IsShutdown
    {
        get
        {
            lock (_lock)
                return _isShutdown;
        }
    }

    /// <summary>Serves a new host link (an open of the pty) with this process image's state.</summary>
    public void Attach(Stream stream)
    {
        FakeMcu? link = null;
        link = new FakeMcu(stream, clockFreq: 50000000.0, clockOffset: ClockNow(), dictionaryJson: Dictionary,
                           commandHandler: (name, args) => Handle(link!, name, args))
        {
            DiscardInput = () =>
            {
                lock (_lock)
                    return DateTime.UtcNow < _discardUntil;
            },
        };
        lock (_lock)
        {
            _links.Add(link);
            // A freshly started process announced itself into the pty before anyone read it
            if (!_started)
                link.SendResponse("starting");
            _started = true;
        }
    }

    private bool Handle(FakeMcu link, string name, Dictionary<string, object> args)
    {
        lock (_lock)
        {
            _commands.Add(name);
            switch (name)
            {
                case "get_config":
                    link.SendResponse("config", _isConfig ? 1L : 0L, _crc, _isShutdown ? 1L : 0L, 1024L);
                    return true;
                case "allocate_oids":
                    return true;
                case "finalize_config":
                    _isConfig = true;
                    _crc = (long)args["crc"];
                    return true;
                case "emergency_stop":
                    Shutdown(link, "Command request");
                    if (StallsAtShutdown)
                        _discardUntil = DateTime.UtcNow.AddSeconds(0.100);
                    return true;
                case "clear_shutdown":
                    if (!_isShutdown)
                        Shutdown(link, "Shutdown cleared when not shutdown");
                    else
                        _isShutdown = false;
                    return true;
                case "config_reset":
                    if (!_isShutdown)
                    {
                        Shutdown(link, "config_reset only available when shutdown");
                        return true;
                    }
                    // execv(): the pty is gone with the old process image, no ack is sent
                    Reexecuted = true;
                    foreach (var l in _links)
                        l.Close();
                    return true;
                default:
                    return false;
            }
        }
    }

    private void Shutdown(FakeMcu link, string reason)
    {
        if (_isShutdown)
        {
            link.SendResponse("is_shutdown", reason);
            return;
        }
        _isShutdown = true;
        link.SendResponse("shutdown", link.Clock & 0xffffffff, reason);
    }

    public void Dispose()
    {
        List<FakeMcu> links;
        lock (_lock)
            links = _links.ToList();
        foreach (var l in links)
            l.Dispose();
    }
}

/// <summary>
/// Opens links to a <see cref="FakeLinuxMcu"/> process the way the host opens the
/// firmware's pty: every open after a re-execution talks to the new process.
/// </summary>
internal sealed class FakeLinuxMcuProcess : IDisposable
{
    private readonly object _lock = new();
    private readonly List<FakeLinuxMcu> _generations = new();
    private long _clockOffset = 7_000_000_000;

    /// <summary>Every process image so far (one more per config_reset).</summary>
    public List<FakeLinuxMcu> Generations
    {
        get
        {
            lock (_lock)
                return _generations.ToList();
        }
    }

    /// <summary>Makes the first process image stall after its shutdown (see <see cref="FakeLinuxMcu.StallsAtShutdown"/>).</summary>
    public bool FirstStallsAtShutdown { get; init; }

    /// <summary>
    /// A host-side stream to the process (HostOptions.SimulatedLinkFactory): the same image
    /// until config_reset re-executes it, then a new image with fresh state.
    /// </summary>
    public Stream Open(string serial)
    {
        lock (_lock)
        {
            if (_generations.Count == 0 || _generations[^1].Reexecuted)
            {
                // The MCU clock is the system's monotonic clock: it keeps counting across execv
                _clockOffset += 1_000_000_000;
                _generations.Add(new FakeLinuxMcu(_clockOffset) { StallsAtShutdown = _generations.Count == 0 && FirstStallsAtShutdown });
            }
            var (hostSide, mcuSide) = DuplexPipe.CreatePair();
            _generations[^1].Attach(mcuSide);
            return hostSide;
        }
    }

    public void Dispose()
    {
        foreach (var g in Generations)
            g.Dispose();
    }
}
