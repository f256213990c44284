namespace Klipsharp.SimMcu;

public sealed partial class SimulatedMcu
{
    // Bus devices accept their configuration and answer transfers with zeros (SPI
    // Trinamic drivers aside, see SimulatedMcu.Tmc.cs), so a host config that mentions
    // them can finish its setup.
    private sealed class SpiDevice
    {
        // Chip select pin, or -1 - oid without one: the key of the chips behind it.
        public int CsKey;
        public uint Mode;
    }

    private sealed class I2cDevice;

    private sealed class Neopixel
    {
        public int DataSize;
    }

    private sealed class Buttons
    {
        public int Count;
    }

    private void BuildBusCommands()
    {
        _table.AddCommand("config_spi oid=%c pin=%u cs_active_high=%c", a => OidAlloc(a.Byte(0), new SpiDevice { CsKey = (int)a[1] }));
        _table.AddCommand("config_spi_without_cs oid=%c", a => OidAlloc(a.Byte(0), new SpiDevice { CsKey = -1 - a.Byte(0) }));
        _table.AddCommand("spi_set_bus oid=%c spi_bus=%u mode=%u rate=%u", a => OidLookup<SpiDevice>(a.Byte(0)).Mode = a[2]);
        _table.AddCommand("spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u", a => OidLookup<SpiDevice>(a.Byte(0)).Mode = a[4]);
        _table.AddCommand("spi_transfer oid=%c data=%*s", a =>
            Sendf("spi_transfer_response", a.Byte(0), SpiExchange(OidLookup<SpiDevice>(a.Byte(0)), a.Buffer(1))));
        _table.AddCommand("spi_send oid=%c data=%*s", a => SpiExchange(OidLookup<SpiDevice>(a.Byte(0)), a.Buffer(1)));
        _table.AddCommand("config_spi_shutdown oid=%c spi_oid=%c shutdown_msg=%*s", a =>
        {
            OidLookup<SpiDevice>(a.Byte(1));
            OidAlloc(a.Byte(0), new object());
        });

        _table.AddCommand("config_i2c oid=%c", a => OidAlloc(a.Byte(0), new I2cDevice()));
        _table.AddCommand("i2c_set_bus oid=%c i2c_bus=%u rate=%u address=%u", a => OidLookup<I2cDevice>(a.Byte(0)));
        _table.AddCommand("i2c_set_sw_bus oid=%c scl_pin=%u sda_pin=%u pulse_ticks=%u address=%u", a => OidLookup<I2cDevice>(a.Byte(0)));
        _table.AddCommand("i2c_transfer oid=%c write=%*s read_len=%u", a =>
        {
            OidLookup<I2cDevice>(a.Byte(0));
            int len = (int)Math.Min(a[2], 48u);
            Sendf("i2c_response", a.Byte(0), 0, new byte[len]);
        });

        _table.AddCommand("config_neopixel oid=%c pin=%u data_size=%hu bit_max_ticks=%u reset_min_ticks=%u", a =>
        {
            int size = (ushort)a[2];
            if (size > 0x1000)
                Shutdown("Invalid neopixel data_size");
            OidAlloc(a.Byte(0), new Neopixel { DataSize = size });
        });
        _table.AddCommand("neopixel_update oid=%c pos=%hu data=%*s", a =>
        {
            var n = OidLookup<Neopixel>(a.Byte(0));
            if ((ushort)a[1] + a.Buffer(2).Length > n.DataSize)
                Shutdown("Invalid neopixel update command");
        });
        _table.AddCommand("neopixel_send oid=%c", a =>
        {
            OidLookup<Neopixel>(a.Byte(0));
            Sendf("neopixel_result", a.Byte(0), 1);
        });

        _table.AddCommand("config_buttons oid=%c button_count=%c", a =>
        {
            if (a.Byte(1) > 8)
                Shutdown("Max of 8 buttons");
            OidAlloc(a.Byte(0), new Buttons { Count = a.Byte(1) });
        });
        _table.AddCommand("buttons_add oid=%c pos=%c pin=%u pull_up=%c", a =>
        {
            var b = OidLookup<Buttons>(a.Byte(0));
            if (a.Byte(1) >= b.Count)
                Shutdown("Set button past maximum button count");
        });
        _table.AddCommand("buttons_query oid=%c clock=%u rest_ticks=%u retransmit_count=%c invert=%c", a => OidLookup<Buttons>(a.Byte(0)));
        _table.AddCommand("buttons_ack oid=%c count=%c", a => OidLookup<Buttons>(a.Byte(0)));

        _table.AddResponse("spi_transfer_response oid=%c response=%*s");
        _table.AddResponse("i2c_response oid=%c i2c_bus_status=%c response=%*s");
        _table.AddResponse("neopixel_result oid=%c success=%c");
        _table.AddResponse("buttons_state oid=%c ack_count=%c state=%*s");
    }
}
