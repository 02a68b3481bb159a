-- The device inventory each edge reports (ReportDevices): every configured device with its
-- identity as discovered (SunSpec common model 1, an MQTT profile's identity), its state and the
-- points it reports. Each report replaces the edge's previous snapshot: reported devices are
-- upserted, devices missing from it deleted. ERP devices (erp.devices) are linked to a reported
-- device by its serial number, which is why serial_number is indexed.
CREATE TABLE raw.edge_devices (
  edge_id text NOT NULL REFERENCES raw.edges (edge_id),
  -- Device id as configured on the edge (the device_id of its readings).
  device_id text NOT NULL CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  -- "<class>/<profile>" as configured, e.g. 'inverter/sunspec-inverter-tcp'.
  profile text NOT NULL CHECK (length(profile) <= 200),
  -- The profile's device class (nature): inverter, meter, battery, ...
  device_class text NOT NULL CHECK (length(device_class) <= 100),
  -- Identity as the device states it; NULL when unknown (not discovered, not given).
  manufacturer text CHECK (length(manufacturer) BETWEEN 1 AND 100),
  model text CHECK (length(model) BETWEEN 1 AND 100),
  serial_number text CHECK (length(serial_number) BETWEEN 1 AND 100),
  firmware text CHECK (length(firmware) BETWEEN 1 AND 100),
  state text NOT NULL CHECK (state IN ('ok', 'fault', 'unknown')),
  -- When the state began (edge clock); NULL when the edge did not say.
  state_since timestamptz,
  -- The EDGE_ERR_* code and the device's own words of the fault; NULL unless in fault.
  last_error_code text CHECK (length(last_error_code) <= 100),
  last_error_message text CHECK (length(last_error_message) <= 1000),
  -- Canonical point ids the device reports.
  points text[] NOT NULL DEFAULT '{}',
  -- When the hub stored the report this row comes from.
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (edge_id, device_id)
);
CREATE INDEX edge_devices_serial_number ON raw.edge_devices (serial_number);

-- SELECT and INSERT come with raw's default privileges (0003); a snapshot also updates and
-- deletes the edge's rows.
GRANT UPDATE, DELETE ON raw.edge_devices TO steinmetz_integration;
