using System.Globalization;
using System.Text;
using Klipsharp.Motion;

namespace Klipsharp.Motion.Tests.Differential;

/// <summary>
/// Runs a scenario script against the C# motion core and prints the same text as
/// harness.c prints when run against upstream's chelper code.
/// </summary>
internal sealed class ScenarioRunner
{
    private readonly Dictionary<int, TrapQ> _tqs = new();
    private readonly Dictionary<int, SteppersSync> _sss = new();
    private readonly Dictionary<int, SyncEmitter> _ses = new();
    private readonly Dictionary<int, StepperKinematics> _sks = new();
    private readonly Dictionary<SteppersSync, int> _ssIds = new();
    private readonly SteppersSyncManager _ssm = new();
    private readonly StringBuilder _out = new();
    private readonly List<string> _errors = new();

    // Errors are printed sorted, as harness.c does (its threads log in any order);
    // a scenario ends at its first error, as klippy shuts down there.
    private bool PrintErrors()
    {
        _errors.Sort(StringComparer.Ordinal);
        foreach (string e in _errors)
            _out.Append("error ").Append(e).Append('\n');
        bool any = _errors.Count != 0;
        _errors.Clear();
        return any;
    }

    private sealed class Sink : IMoveQueueSink
    {
        private readonly ScenarioRunner _runner;
        private readonly int _id;

        public Sink(ScenarioRunner runner, int id)
        {
            _runner = runner;
            _id = id;
        }

        public void SendBatch(ReadOnlySpan<MoveQueueMessage> batch)
        {
            StringBuilder o = _runner._out;
            o.Append("batch ").Append(_id).Append('\n');
            foreach (ref readonly MoveQueueMessage m in batch)
            {
                o.Append("m ").Append(m.MinClock).Append(' ').Append(m.ReqClock);
                foreach (uint w in m.Data)
                    o.Append(' ').Append(w);
                o.Append('\n');
            }
        }
    }

    public static string Run(string script)
    {
        var r = new ScenarioRunner();
        Action<string>? old = MotionLog.ErrorHandler;
        MotionLog.ErrorHandler = r._errors.Add;
        try
        {
            int lineNo = 0;
            foreach (string raw in script.Split('\n'))
            {
                lineNo++;
                try
                {
                    r.Exec(raw);
                }
                catch (Exception ex)
                {
                    r._out.Append("exception at script line ").Append(lineNo).Append(": ").Append(ex.GetType().Name).Append('\n');
                    break;
                }
                if (r.PrintErrors())
                {
                    r._out.Append("halt\n");
                    break;
                }
            }
        }
        finally
        {
            MotionLog.ErrorHandler = old;
        }
        return r._out.ToString();
    }

    private static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
    private static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);
    private static ulong U(string s) => ulong.Parse(s, CultureInfo.InvariantCulture);

    private void Pd(double v) => _out.Append(' ').Append(BitConverter.DoubleToUInt64Bits(v).ToString("x16", CultureInfo.InvariantCulture));

    private StepCompress Sc(int id) => _ses[id].StepCompress!;

    private void Exec(string line)
    {
        string[] a = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (a.Length == 0 || a[0].StartsWith('#'))
            return;
        switch (a[0])
        {
            case "trapq":
                _tqs[I(a[1])] = new TrapQ();
                break;
            case "append":
                _tqs[I(a[1])].Append(D(a[2]), D(a[3]), D(a[4]), D(a[5]), D(a[6]), D(a[7]), D(a[8]),
                    D(a[9]), D(a[10]), D(a[11]), D(a[12]), D(a[13]), D(a[14]));
                break;
            case "finalize":
                _tqs[I(a[1])].FinalizeMoves(D(a[2]), D(a[3]));
                break;
            case "tq_setpos":
                _tqs[I(a[1])].SetPosition(D(a[2]), D(a[3]), D(a[4]), D(a[5]));
                break;
            case "extract_tq":
            {
                var p = new PullMove[I(a[2])];
                int cnt = _tqs[I(a[1])].ExtractOld(p, D(a[3]), D(a[4]));
                _out.Append("pull ").Append(cnt).Append('\n');
                for (int i = 0; i < cnt; i++)
                {
                    _out.Append("pm");
                    Pd(p[i].PrintTime); Pd(p[i].MoveT); Pd(p[i].StartV); Pd(p[i].Accel);
                    Pd(p[i].StartX); Pd(p[i].StartY); Pd(p[i].StartZ);
                    Pd(p[i].XR); Pd(p[i].YR); Pd(p[i].ZR);
                    _out.Append('\n');
                }
                break;
            }
            case "mcu":
            {
                int s = I(a[1]);
                SteppersSync ss = _ssm.AllocSteppersSync();
                ss.SetupMoveQueue(new Sink(this, s), I(a[2]));
                _sss[s] = ss;
                _ssIds[ss] = s;
                break;
            }
            case "settime":
                _sss[I(a[1])].SetTime(D(a[2]), D(a[3]));
                break;
            case "stepper":
            {
                int id = I(a[1]);
                SyncEmitter se = _sss[I(a[2])].AllocSyncEmitter("s" + id.ToString(CultureInfo.InvariantCulture));
                StepCompress sc = se.StepCompress!;
                sc.Fill(uint.Parse(a[5], CultureInfo.InvariantCulture), uint.Parse(a[6], CultureInfo.InvariantCulture), 10, 11);
                sc.SetInvertSdir(I(a[7]) != 0);
                StepperKinematics sk = a[3] switch
                {
                    "cart" => new CartesianStepperKinematics(a[4][0]),
                    "corexy" => new CoreXYStepperKinematics(a[4][0]),
                    "corexz" => new CoreXZStepperKinematics(a[4][0]),
                    _ => new ExtruderStepperKinematics(),
                };
                _sks[id] = sk;
                _ses[id] = se;
                se.SetStepperKinematics(sk);
                int t = I(a[9]);
                sk.SetTrapQ(t >= 0 ? _tqs[t] : null, D(a[8]));
                break;
            }
            case "emitter":
            {
                int id = I(a[1]);
                _ses[id] = _sss[I(a[2])].AllocSyncEmitter("e" + id.ToString(CultureInfo.InvariantCulture), false);
                break;
            }
            case "settrapq":
            {
                int t = I(a[2]);
                _sks[I(a[1])].SetTrapQ(t >= 0 ? _tqs[t] : null, D(a[3]));
                break;
            }
            case "pa":
                ((ExtruderStepperKinematics)_sks[I(a[1])]).SetPressureAdvance(D(a[2]), D(a[3]), D(a[4]));
                break;
            case "skpos":
                _sks[I(a[1])].SetPosition(D(a[2]), D(a[3]), D(a[4]));
                break;
            case "invert":
                Sc(I(a[1])).SetInvertSdir(I(a[2]) != 0);
                break;
            case "queue_msg":
            {
                var words = new uint[a.Length - 3];
                for (int i = 0; i < words.Length; i++)
                    words[i] = uint.Parse(a[3 + i], CultureInfo.InvariantCulture);
                _ses[I(a[1])].QueueMsg(U(a[2]), words);
                break;
            }
            case "gen":
            {
                SyncEmitter? f = _ssm.GenSteps(D(a[1]), D(a[2]), D(a[3]));
                int fid = -1;
                foreach (KeyValuePair<int, SyncEmitter> kv in _ses)
                    if (f is not null && kv.Value == f)
                        fid = kv.Key;
                _out.Append("gen ").Append(fid).Append('\n');
                break;
            }
            case "sc_append":
            {
                int ret = Sc(I(a[1])).Append(I(a[2]), D(a[3]), D(a[4]));
                if (ret != 0)
                    _out.Append("append ").Append(ret).Append('\n');
                break;
            }
            case "sc_commit":
                _out.Append("commit ").Append(Sc(I(a[1])).Commit()).Append('\n');
                break;
            case "sc_flush":
                _out.Append("flush ").Append(Sc(I(a[1])).Flush(U(a[2]))).Append('\n');
                break;
            case "reset":
                _out.Append("reset ").Append(Sc(I(a[1])).Reset(U(a[2]))).Append('\n');
                break;
            case "setlastpos":
                _out.Append("setlastpos ").Append(Sc(I(a[1])).SetLastPosition(U(a[2]), long.Parse(a[3], CultureInfo.InvariantCulture))).Append('\n');
                break;
            case "find":
                _out.Append("pos ").Append(Sc(I(a[1])).FindPastPosition(U(a[2]))).Append('\n');
                break;
            case "extract_sc":
            {
                var p = new PullHistorySteps[I(a[2])];
                int cnt = Sc(I(a[1])).ExtractOld(p, U(a[3]), U(a[4]));
                _out.Append("hist ").Append(cnt).Append('\n');
                for (int i = 0; i < cnt; i++)
                {
                    _out.Append("h ").Append(p[i].FirstClock).Append(' ').Append(p[i].LastClock)
                        .Append(' ').Append(p[i].StartPosition).Append(' ').Append(p[i].StepCount)
                        .Append(' ').Append(p[i].Interval).Append(' ').Append(p[i].Add).Append('\n');
                }
                break;
            }
            case "cmdpos":
                _out.Append("cmdpos");
                Pd(_sks[I(a[1])].GetCommandedPos());
                _out.Append('\n');
                break;
            case "active":
                _out.Append("active");
                Pd(_sks[I(a[1])].CheckActive(D(a[2])));
                _out.Append('\n');
                break;
            default:
                _out.Append("unknown ").Append(a[0]).Append('\n');
                break;
        }
    }
}
