using System.Runtime.InteropServices;

namespace Klipsharp.Protocol;

/// <summary>
/// Per-thread CPU priority on Linux. The threads that keep an MCU fed (the host's reactor,
/// its serial I/O, a simulated MCU) ask for a lower nice value so that a busy computer
/// delays them less; background work asks for a higher one so it never competes with them.
/// .NET's <see cref="Thread.Priority"/> has no effect on Linux, hence the system call.
/// </summary>
public static partial class ThreadScheduling
{
    /// <summary>The nice value asked for by time-critical threads.</summary>
    public const int TimeCriticalNice = -10;

    /// <summary>The nice value of background work such as JIT warm-up.</summary>
    public const int BackgroundNice = 19;

    private const int PRIO_PROCESS = 0;

    /// <summary>
    /// Sets the calling thread's nice value. Returns false where that is not allowed
    /// (lowering it needs CAP_SYS_NICE or a matching RLIMIT_NICE) or not Linux. Threads
    /// the calling thread starts afterwards inherit the value.
    /// </summary>
    public static bool TrySetCurrentThreadNice(int nice)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            // On Linux, PRIO_PROCESS with a thread id changes only that thread
            return setpriority(PRIO_PROCESS, (uint)gettid(), nice) == 0;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, uint who, int prio);

    [LibraryImport("libc")]
    private static partial int gettid();
}
