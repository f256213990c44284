using System.Runtime.InteropServices;
using Klipsharp.SimMcu;

namespace Klipsharp.Verbs;

/// <summary>
/// <c>sim-mcu [--pty PATH | --socket PATH] [--board NAME] [--machine FILE | --no-machine] [--dict-out FILE]</c>:
/// runs a simulated MCU for any host (upstream klippy included).
/// </summary>
public static class SimMcuVerb
{
    private const string Usage =
        "usage: klipsharp sim-mcu [--pty PATH | --socket PATH] [--board NAME] [--machine FILE | --no-machine] [--dict-out FILE]\n" +
        "  --pty PATH      serve on a pseudo-terminal, with PATH a symlink to it (default /tmp/klipsharp-mcu)\n" +
        "  --socket PATH   serve on a Unix socket at PATH instead\n" +
        "  --board NAME    board to simulate: atmega2560 (default), stm32f407, linux\n" +
        "  --machine FILE  axes and heaters of the simulated printer (JSON, see SimMachineJson)\n" +
        "  --no-machine    no simulated axes or heaters (endstops open, ADC pins at room temperature)\n" +
        "  --dict-out FILE write the data dictionary (JSON) to FILE; alone, write it and exit\n";

    /// <summary>Runs the verb; returns the exit status.</summary>
    public static int Run(string[] args)
    {
        string? pty = null, socket = null, dictOut = null, machineFile = null, boardName = "atmega2560";
        bool noMachine = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Next()
            {
                if (i + 1 >= args.Length)
                    return null;
                return args[++i];
            }
            switch (a)
            {
                case "--pty" or "-I":
                    pty = Next();
                    if (pty == null)
                        return Fail($"option {a} needs a path");
                    break;
                case "--socket":
                    socket = Next();
                    if (socket == null)
                        return Fail("option --socket needs a path");
                    break;
                case "--board":
                    boardName = Next();
                    if (boardName == null)
                        return Fail("option --board needs a name");
                    break;
                case "--dict-out":
                    dictOut = Next();
                    if (dictOut == null)
                        return Fail("option --dict-out needs a file name");
                    break;
                case "--machine":
                    machineFile = Next();
                    if (machineFile == null)
                        return Fail("option --machine needs a file name");
                    break;
                case "--no-machine":
                    noMachine = true;
                    break;
                case "-h" or "--help":
                    Console.Error.Write(Usage);
                    return 0;
                default:
                    return Fail($"unknown argument '{a}'");
            }
        }
        if (pty != null && socket != null)
            return Fail("give either --pty or --socket, not both");
        var board = SimBoard.ByName(boardName);
        if (board == null)
            return Fail($"unknown board '{boardName}' (known: {string.Join(", ", SimBoard.Names)})");

        SimMachine? machine = noMachine ? new SimMachine() : null;
        if (machineFile != null)
        {
            try
            {
                machine = SimMachineJson.Load(machineFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                return Fail($"cannot use machine file '{machineFile}': {e.Message}");
            }
        }
        SimulatedMcu mcuInstance;
        try
        {
            mcuInstance = new SimulatedMcu(board, machine, realTime: true);
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }
        using var mcu = mcuInstance;
        if (dictOut != null)
        {
            try
            {
                File.WriteAllBytes(dictOut, mcu.DictionaryJson);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail($"cannot write '{dictOut}': {e.Message}");
            }
            if (pty == null && socket == null)
                return 0;
        }

        IDisposable transport;
        try
        {
            if (socket != null)
            {
                var server = SimMcuSocketServer.Listen(mcu, socket);
                server.ConnectionChanged += up => Console.Error.WriteLine(up ? "sim-mcu: host connected" : "sim-mcu: host disconnected");
                transport = server;
                Console.Error.WriteLine($"sim-mcu: {board.Name} ({board.ClockFreq} Hz) listening on {socket}");
            }
            else
            {
                pty ??= "/tmp/klipsharp-mcu";
                var p = SimMcuPty.Open(mcu, pty);
                transport = p;
                Console.Error.WriteLine($"sim-mcu: {board.Name} ({board.ClockFreq} Hz) on {pty} -> {p.SlaveName}");
                if (board.SerialBaud != null)
                    Console.Error.WriteLine("sim-mcu: a pseudo-terminal has no DTR line: use 'restart_method: command' in the host's [mcu] section");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return Fail(e.Message);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return Fail($"cannot listen on '{socket}': {e.Message}");
        }

        using var done = new ManualResetEventSlim(false);
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            done.Set();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        mcu.ShutdownOccurred += reason => Console.Error.WriteLine(
            reason == "Timer too close" && mcu.ShutdownDetail is { } detail
                ? $"sim-mcu: shutdown: {reason} ({detail})"
                : $"sim-mcu: shutdown: {reason}");
        mcu.Start();
        done.Wait();
        mcu.Stop();
        transport.Dispose();
        return 0;
    }

    private static int Fail(string msg)
    {
        Console.Error.WriteLine("klipsharp sim-mcu: " + msg);
        return 2;
    }
}
