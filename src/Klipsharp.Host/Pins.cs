using System.Text.RegularExpressions;

namespace Klipsharp.Host;

/// <summary>A chip that provides pins: an MCU, or an expander such as a shift register or a virtual endstop.</summary>
public interface IPinChip
{
    /// <summary>Creates the pin object for <paramref name="pinType"/> ("endstop", "digital_out", "pwm", "adc").</summary>
    object SetupPin(string pinType, PinParams pinParams);
}

/// <summary>A parsed pin description (upstream's pin_params dict).</summary>
public sealed class PinParams
{
    public required IPinChip Chip { get; init; }
    public required string ChipName { get; init; }
    public required string Pin { get; init; }
    public int Invert { get; init; }
    public int Pullup { get; init; }
    public string? ShareType { get; set; }
}

/// <summary>Per-chip pin names: aliases, reserved pins, and the rewrite of <c>pin=</c> fields in config commands (upstream PinResolver).</summary>
public sealed partial class PinResolver
{
    private readonly bool _validateAliases;
    private readonly Dictionary<string, string> _reserved = new();
    private readonly Dictionary<string, string> _aliases = new();
    private readonly Dictionary<string, string> _activePins = new();

    public PinResolver(bool validateAliases = true) => _validateAliases = validateAliases;

    public void ReservePin(string pin, string reserveName)
    {
        if (_reserved.TryGetValue(pin, out var existing) && existing != reserveName)
            throw new PinError($"Pin {pin} reserved for {existing} - can't reserve for {reserveName}");
        _reserved[pin] = reserveName;
    }

    public void AliasPin(string alias, string pin)
    {
        if (_aliases.TryGetValue(alias, out var existing) && existing != pin)
            throw new PinError($"Alias {alias} mapped to {existing} - can't alias to {pin}");
        if (pin.IndexOfAny(['^', '~', '!', ':']) >= 0 || string.Concat(pin.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) != pin)
            throw new PinError($"Invalid pin alias '{pin}'\n");
        if (_aliases.TryGetValue(pin, out var target))
            pin = target;
        _aliases[alias] = pin;
        foreach (var key in _aliases.Keys.ToList())
            if (_aliases[key] == alias)
                _aliases[key] = pin;
    }

    [GeneratedRegex(@"(?<prefix>[ _]pin=)(?<name>[^ ]*)")]
    private static partial Regex PinField();

    /// <summary>Replaces aliases in every <c>pin=</c> field of a config command and checks reservations.</summary>
    public string UpdateCommand(string cmd) =>
        PinField().Replace(cmd, m =>
        {
            string name = m.Groups["name"].Value;
            string pinId = _aliases.GetValueOrDefault(name, name);
            if (!_activePins.TryGetValue(pinId, out var active))
                _activePins[pinId] = active = name;
            if (name != active && _validateAliases)
                throw new PinError($"pin {name} is an alias for {active}");
            if (_reserved.TryGetValue(pinId, out var reservedFor))
                throw new PinError($"pin {name} is reserved for {reservedFor}");
            return m.Groups["prefix"].Value + pinId;
        });
}

/// <summary>The "pins" printer object: pin description parsing, chip registry and pin sharing rules (upstream pins.py).</summary>
public sealed class PrinterPins
{
    private readonly Dictionary<string, IPinChip> _chips = new();
    private readonly Dictionary<string, PinParams> _activePins = new();
    private readonly Dictionary<string, PinResolver> _pinResolvers = new();
    private readonly HashSet<string> _allowMultiUsePins = new();

    public PinParams ParsePin(string pinDesc, bool canInvert = false, bool canPullup = false)
    {
        string desc = pinDesc.Trim();
        int pullup = 0, invert = 0;
        if (canPullup && (desc.StartsWith('^') || desc.StartsWith('~')))
        {
            pullup = desc.StartsWith('~') ? -1 : 1;
            desc = desc[1..].Trim();
        }
        if (canInvert && desc.StartsWith('!'))
        {
            invert = 1;
            desc = desc[1..].Trim();
        }
        string chipName, pin;
        int colon = desc.IndexOf(':');
        if (colon < 0)
        {
            chipName = "mcu";
            pin = desc;
        }
        else
        {
            chipName = desc[..colon].Trim();
            pin = desc[(colon + 1)..].Trim();
        }
        if (!_chips.TryGetValue(chipName, out var chip))
            throw new PinError($"Unknown pin chip name '{chipName}'");
        if (pin.IndexOfAny(['^', '~', '!', ':']) >= 0 || string.Concat(pin.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) != pin)
        {
            string format = (canPullup ? "[^~] " : "") + (canInvert ? "[!] " : "");
            throw new PinError($"Invalid pin description '{pinDesc}'\nFormat is: {format}[chip_name:] pin_name");
        }
        return new PinParams { Chip = chip, ChipName = chipName, Pin = pin, Invert = invert, Pullup = pullup };
    }

    public PinParams LookupPin(string pinDesc, bool canInvert = false, bool canPullup = false, string? shareType = null)
    {
        var pinParams = ParsePin(pinDesc, canInvert, canPullup);
        string shareName = $"{pinParams.ChipName}:{pinParams.Pin}";
        if (_activePins.TryGetValue(shareName, out var shared))
        {
            if (_allowMultiUsePins.Contains(shareName))
            {
            }
            else if (shareType is null || shareType != shared.ShareType)
                throw new PinError($"pin {pinParams.Pin} used multiple times in config");
            else if (pinParams.Invert != shared.Invert || pinParams.Pullup != shared.Pullup)
                throw new PinError($"Shared pin {pinParams.Pin} must have same polarity");
            return shared;
        }
        pinParams.ShareType = shareType;
        _activePins[shareName] = pinParams;
        return pinParams;
    }

    public object SetupPin(string pinType, string pinDesc)
    {
        bool canInvert = pinType is "endstop" or "digital_out" or "pwm";
        bool canPullup = pinType is "endstop";
        var pinParams = LookupPin(pinDesc, canInvert, canPullup);
        return pinParams.Chip.SetupPin(pinType, pinParams);
    }

    public T SetupPin<T>(string pinType, string pinDesc) where T : class => (T)SetupPin(pinType, pinDesc);

    public void ResetPinSharing(PinParams pinParams) => _activePins.Remove($"{pinParams.ChipName}:{pinParams.Pin}");

    public PinResolver GetPinResolver(string chipName) =>
        _pinResolvers.TryGetValue(chipName, out var r) ? r : throw new PinError($"Unknown chip name '{chipName}'");

    public void RegisterChip(string chipName, IPinChip chip)
    {
        chipName = chipName.Trim();
        if (_chips.ContainsKey(chipName))
            throw new PinError($"Duplicate chip name '{chipName}'");
        _chips[chipName] = chip;
        _pinResolvers[chipName] = new PinResolver();
    }

    public void AllowMultiUsePin(string pinDesc)
    {
        var p = ParsePin(pinDesc);
        _allowMultiUsePins.Add($"{p.ChipName}:{p.Pin}");
    }
}
