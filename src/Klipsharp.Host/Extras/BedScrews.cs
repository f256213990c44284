using Klipsharp.Host.Configuration;
using Klipsharp.Host.GCode;

namespace Klipsharp.Host.Extras;

/// <summary>[bed_screws]: BED_SCREWS_ADJUST walks the nozzle over each bed screw (upstream bed_screws.BedScrews).</summary>
public sealed class BedScrews : IStatusProvider
{
    public const string CmdBedScrewsAdjustHelp = "Tool to help adjust bed leveling screws";
    public const string CmdAcceptHelp = "Accept bed screw position";
    public const string CmdAdjustedHelp = "Accept bed screw position after notable adjustment";
    public const string CmdAbortHelp = "Abort bed screws tool";

    private readonly Printer _printer;
    private readonly int _numberOfScrews;
    private readonly Dictionary<string, List<(IReadOnlyList<double> Coord, string Name)>> _states;
    private readonly double _speed, _liftSpeed, _horizontalMoveZ, _probeZ;
    private readonly GCodeDispatch _gcode;
    private string? _state;
    private int _currentScrew;
    private int _acceptedScrews;

    public BedScrews(ConfigWrapper config)
    {
        _printer = config.GetPrinter();
        Reset();
        var screws = new List<(IReadOnlyList<double>, string)>();
        var fineAdjust = new List<(IReadOnlyList<double>, string)>();
        for (int i = 0; i < 99; i++)
        {
            string prefix = $"screw{i + 1}";
            if (config.GetOrNull(prefix) is null)
                break;
            var screwCoord = config.GetFloatList(prefix, count: 2);
            string screwName = $"screw at {PyFmt.F(screwCoord[0], 3)},{PyFmt.F(screwCoord[1], 3)}";
            screwName = config.Get(prefix + "_name", screwName);
            screws.Add((screwCoord, screwName));
            string pfa = prefix + "_fine_adjust";
            if (config.GetOrNull(pfa) is not null)
                fineAdjust.Add((config.GetFloatList(pfa, count: 2), screwName));
        }
        if (screws.Count < 3)
            throw config.Error("bed_screws: Must have at least three screws");
        _numberOfScrews = screws.Count;
        _states = new() { ["adjust"] = screws, ["fine"] = fineAdjust };
        _speed = config.GetFloat("speed", 50.0, above: 0.0);
        _liftSpeed = config.GetFloat("probe_speed", 5.0, above: 0.0);
        _horizontalMoveZ = config.GetFloat("horizontal_move_z", 5.0);
        _probeZ = config.GetFloat("probe_height", 0.0);
        _gcode = _printer.LookupObject<GCodeDispatch>("gcode");
        _gcode.RegisterCommand("BED_SCREWS_ADJUST", CmdBedScrewsAdjust, desc: CmdBedScrewsAdjustHelp);
    }

    private void Reset()
    {
        _state = null;
        _currentScrew = 0;
        _acceptedScrews = 0;
    }

    private void Move(IReadOnlyList<double?> coord, double speed)
    {
        try
        {
            _printer.LookupObject<ToolHead>("toolhead").ManualMove(coord, speed);
        }
        catch (CommandError)
        {
            UnregisterCommands();
            Reset();
            throw;
        }
    }

    private void MoveToScrew(string state, int screw)
    {
        Move([null, null, _horizontalMoveZ], _liftSpeed);
        var (coord, name) = _states[state][screw];
        Move([coord[0], coord[1], _horizontalMoveZ], _speed);
        Move([coord[0], coord[1], _probeZ], _liftSpeed);
        _state = state;
        _currentScrew = screw;
        _gcode.RespondInfo($"Adjust {name}. Then run ACCEPT, ADJUSTED, or ABORT\nUse ADJUSTED if a significant screw adjustment is made");
        _gcode.RegisterCommand("ACCEPT", CmdAccept, desc: CmdAcceptHelp);
        _gcode.RegisterCommand("ADJUSTED", CmdAdjusted, desc: CmdAdjustedHelp);
        _gcode.RegisterCommand("ABORT", CmdAbort, desc: CmdAbortHelp);
    }

    private void UnregisterCommands()
    {
        _gcode.RegisterCommand("ACCEPT", null);
        _gcode.RegisterCommand("ADJUSTED", null);
        _gcode.RegisterCommand("ABORT", null);
    }

    public Dictionary<string, object?> GetStatus(double eventtime) => new()
    {
        ["is_active"] = _state is not null,
        ["state"] = _state,
        ["current_screw"] = _currentScrew,
        ["accepted_screws"] = _acceptedScrews,
    };

    private void CmdBedScrewsAdjust(GCodeCommand gcmd)
    {
        if (_state is not null)
            throw gcmd.Error("Already in bed_screws helper; use ABORT to exit");
        _acceptedScrews = 0;
        Move([null, null, _horizontalMoveZ], _speed);
        MoveToScrew("adjust", 0);
    }

    private void CmdAccept(GCodeCommand gcmd)
    {
        UnregisterCommands();
        _acceptedScrews++;
        if (_currentScrew + 1 < _states[_state!].Count && _acceptedScrews < _numberOfScrews)
        {
            MoveToScrew(_state!, _currentScrew + 1);
            return;
        }
        if (_acceptedScrews < _numberOfScrews)
        {
            // Retry the coarse adjustments
            MoveToScrew("adjust", 0);
            return;
        }
        if (_state == "adjust" && _states["fine"].Count > 0)
        {
            _acceptedScrews = 0;
            MoveToScrew("fine", 0);
            return;
        }
        Reset();
        Move([null, null, _horizontalMoveZ], _liftSpeed);
        gcmd.RespondInfo("Bed screws tool completed successfully");
    }

    private void CmdAdjusted(GCodeCommand gcmd)
    {
        UnregisterCommands();
        _acceptedScrews = -1;
        CmdAccept(gcmd);
    }

    private void CmdAbort(GCodeCommand gcmd)
    {
        UnregisterCommands();
        Reset();
    }
}
