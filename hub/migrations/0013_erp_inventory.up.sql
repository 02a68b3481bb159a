-- Inventory: articles, warehouses, and stock as an append-only ledger of movements. The ledger's
-- trigger applies each movement to the balances in the same transaction, under row locks:
-- stock per (article, warehouse) never goes negative nor below what is reserved, material issued
-- to a project never below what was returned, and a serial number is in exactly one place
-- (warehouse, project or site) at a time. A wrong movement is corrected by its reversal (a
-- movement naming it in reverses_id, once), never edited or deleted.

CREATE TABLE erp.articles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number text NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 40),
  name text COLLATE "de-x-icu" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  category text NOT NULL CHECK (category IN ('module', 'inverter', 'battery', 'mounting', 'cable', 'wallbox', 'service', 'other')),
  unit text NOT NULL DEFAULT 'piece' CHECK (unit IN ('piece', 'm', 'kg', 'set')),
  serialised boolean NOT NULL DEFAULT false,
  manufacturer text CHECK (length(manufacturer) <= 100),
  model text CHECK (length(model) <= 100),
  purchase_price_cents bigint CHECK (purchase_price_cents >= 0),
  sales_price_cents bigint CHECK (sales_price_cents >= 0),
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT articles_serialised_pieces CHECK (NOT serialised OR unit = 'piece')
);
CREATE INDEX articles_name_id ON erp.articles (name, id);
CREATE INDEX articles_number_id ON erp.articles (number, id);
CREATE INDEX articles_created_at_id ON erp.articles (created_at, id);
CREATE INDEX articles_updated_at_id ON erp.articles (updated_at, id);
CREATE INDEX articles_category ON erp.articles (category);
CREATE INDEX articles_search_name ON erp.articles USING gin (name gin_trgm_ops);
CREATE INDEX articles_search_number ON erp.articles USING gin (number gin_trgm_ops);
CREATE TRIGGER articles_audit AFTER INSERT OR UPDATE OR DELETE ON erp.articles
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE TABLE erp.warehouses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{1,20}$'),
  name text COLLATE "de-x-icu" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  street text CHECK (length(street) <= 200),
  postal_code text CHECK (length(postal_code) <= 20),
  city text CHECK (length(city) <= 100),
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warehouses_code_id ON erp.warehouses (code, id);
CREATE INDEX warehouses_created_at_id ON erp.warehouses (created_at, id);
CREATE INDEX warehouses_updated_at_id ON erp.warehouses (updated_at, id);
CREATE TRIGGER warehouses_audit AFTER INSERT OR UPDATE OR DELETE ON erp.warehouses
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Balances, written only by the ledger's trigger (and reservations').
CREATE TABLE erp.stock (
  article_id uuid NOT NULL REFERENCES erp.articles,
  warehouse_id uuid NOT NULL REFERENCES erp.warehouses,
  quantity numeric(14, 3) NOT NULL DEFAULT 0,
  reserved numeric(14, 3) NOT NULL DEFAULT 0,
  PRIMARY KEY (article_id, warehouse_id),
  CONSTRAINT stock_not_negative CHECK (quantity >= 0),
  CONSTRAINT stock_reserved_available CHECK (reserved >= 0 AND reserved <= quantity)
);
CREATE INDEX stock_warehouse ON erp.stock (warehouse_id);

CREATE TABLE erp.project_stock (
  article_id uuid NOT NULL REFERENCES erp.articles,
  project_id uuid NOT NULL REFERENCES erp.projects,
  quantity numeric(14, 3) NOT NULL DEFAULT 0,
  PRIMARY KEY (project_id, article_id),
  CONSTRAINT project_stock_not_negative CHECK (quantity >= 0)
);

-- Where each serial number is now.
CREATE TABLE erp.serial_numbers (
  serial_number text PRIMARY KEY CHECK (length(serial_number) BETWEEN 1 AND 100),
  article_id uuid NOT NULL REFERENCES erp.articles,
  location_kind text NOT NULL CHECK (location_kind IN ('warehouse', 'project', 'site', 'gone')),
  location_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT serial_numbers_location CHECK ((location_kind = 'gone') = (location_id IS NULL))
);
CREATE INDEX serial_numbers_location ON erp.serial_numbers (location_kind, location_id);
-- The balances are in the audit trail too (each change beside the movement that caused it).
CREATE TRIGGER stock_audit AFTER INSERT OR UPDATE OR DELETE ON erp.stock FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER project_stock_audit AFTER INSERT OR UPDATE OR DELETE ON erp.project_stock
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER serial_numbers_audit AFTER INSERT OR UPDATE OR DELETE ON erp.serial_numbers
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE TABLE erp.reservations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES erp.projects,
  article_id uuid NOT NULL REFERENCES erp.articles,
  warehouse_id uuid NOT NULL REFERENCES erp.warehouses,
  quantity numeric(14, 3) NOT NULL CHECK (quantity >= 0),
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reservations_one_per_project_article UNIQUE (project_id, article_id, warehouse_id)
);
CREATE INDEX reservations_created_at_id ON erp.reservations (created_at, id);
CREATE INDEX reservations_updated_at_id ON erp.reservations (updated_at, id);
CREATE INDEX reservations_article ON erp.reservations (article_id, warehouse_id);
CREATE TRIGGER reservations_audit AFTER INSERT OR UPDATE OR DELETE ON erp.reservations
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- A reservation holds stock: its quantity counts in erp.stock.reserved (which may not exceed the
-- quantity in the warehouse), whatever changes it (insert, update, delete, an issue consuming it).
CREATE FUNCTION erp.hold_reservation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE erp.stock SET reserved = reserved - OLD.quantity
    WHERE article_id = OLD.article_id AND warehouse_id = OLD.warehouse_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE erp.stock SET reserved = reserved + NEW.quantity
    WHERE article_id = NEW.article_id AND warehouse_id = NEW.warehouse_id;
    IF NOT FOUND AND NEW.quantity > 0 THEN
      RAISE EXCEPTION 'no stock of the article in the warehouse to reserve'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_reserved_available';
    END IF;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER reservations_hold AFTER INSERT OR UPDATE OR DELETE ON erp.reservations
  FOR EACH ROW EXECUTE FUNCTION erp.hold_reservation();

CREATE TABLE erp.stock_movements (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  kind text NOT NULL CHECK (kind IN ('receipt', 'issue', 'transfer', 'return', 'write_off', 'install')),
  article_id uuid NOT NULL REFERENCES erp.articles,
  quantity numeric(14, 3) NOT NULL CONSTRAINT stock_movements_quantity_positive CHECK (quantity > 0),
  from_warehouse_id uuid REFERENCES erp.warehouses,
  to_warehouse_id uuid REFERENCES erp.warehouses,
  project_id uuid REFERENCES erp.projects,
  site_id uuid REFERENCES erp.sites,
  serial_number text CHECK (length(serial_number) BETWEEN 1 AND 100),
  reverses_id uuid UNIQUE REFERENCES erp.stock_movements,
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1 CHECK (version = 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_created_at_id ON erp.stock_movements (created_at, id);
CREATE INDEX stock_movements_updated_at_id ON erp.stock_movements (updated_at, id);
CREATE INDEX stock_movements_article ON erp.stock_movements (article_id, created_at);
CREATE INDEX stock_movements_project ON erp.stock_movements (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX stock_movements_serial ON erp.stock_movements (serial_number) WHERE serial_number IS NOT NULL;
CREATE INDEX stock_movements_kind ON erp.stock_movements (kind);
CREATE TRIGGER stock_movements_audit AFTER INSERT ON erp.stock_movements
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- The ledger is append-only, for every role including the owner.
CREATE FUNCTION erp.refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused (correct a movement by its reversal)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_append_only';
END
$$;
CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE ON erp.stock_movements
  FOR EACH ROW EXECUTE FUNCTION erp.refuse_ledger_change();
CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON erp.stock_movements
  FOR EACH STATEMENT EXECUTE FUNCTION erp.refuse_ledger_change();

-- Where a movement takes from and where it puts, by kind:
--   receipt   → warehouse          issue    warehouse → project    transfer  warehouse → warehouse
--   return    project → warehouse  write_off warehouse →           install   project → site
CREATE FUNCTION erp.check_movement_shape(m erp.stock_movements) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  ok boolean := CASE m.kind
    WHEN 'receipt' THEN m.to_warehouse_id IS NOT NULL AND m.from_warehouse_id IS NULL AND m.project_id IS NULL AND m.site_id IS NULL
    WHEN 'issue' THEN m.from_warehouse_id IS NOT NULL AND m.project_id IS NOT NULL AND m.to_warehouse_id IS NULL AND m.site_id IS NULL
    WHEN 'transfer' THEN m.from_warehouse_id IS NOT NULL AND m.to_warehouse_id IS NOT NULL
      AND m.from_warehouse_id <> m.to_warehouse_id AND m.project_id IS NULL AND m.site_id IS NULL
    WHEN 'return' THEN m.project_id IS NOT NULL AND m.to_warehouse_id IS NOT NULL AND m.from_warehouse_id IS NULL AND m.site_id IS NULL
    WHEN 'write_off' THEN m.from_warehouse_id IS NOT NULL AND m.to_warehouse_id IS NULL AND m.project_id IS NULL AND m.site_id IS NULL
    WHEN 'install' THEN m.project_id IS NOT NULL AND m.site_id IS NOT NULL AND m.from_warehouse_id IS NULL AND m.to_warehouse_id IS NULL
  END;
BEGIN
  IF NOT ok THEN
    RAISE EXCEPTION 'a % names % (and nothing else)', m.kind, CASE m.kind
      WHEN 'receipt' THEN 'toWarehouseId' WHEN 'issue' THEN 'fromWarehouseId and projectId'
      WHEN 'transfer' THEN 'fromWarehouseId and another toWarehouseId' WHEN 'return' THEN 'projectId and toWarehouseId'
      WHEN 'write_off' THEN 'fromWarehouseId' ELSE 'projectId and siteId' END
      USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_shape';
  END IF;
END
$$;

-- Applies a movement to the balances (sign 1) or takes it back (sign -1, a reversal).
CREATE FUNCTION erp.apply_movement(m erp.stock_movements, sign integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_serialised boolean;
  v_from_kind text;
  v_from_id uuid;
  v_to_kind text;
  v_to_id uuid;
  v_take_kind text;
  v_take_id uuid;
  v_put_kind text;
  v_put_id uuid;
  v_consumed numeric;
BEGIN
  SELECT serialised INTO v_serialised FROM erp.articles WHERE id = m.article_id;
  IF v_serialised AND (m.serial_number IS NULL OR m.quantity <> 1) THEN
    RAISE EXCEPTION 'a serialised article moves by serial number, one at a time'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_serial_required';
  ELSIF NOT v_serialised AND m.serial_number IS NOT NULL THEN
    RAISE EXCEPTION 'the article has no serial numbers'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_serial_unexpected';
  END IF;
  v_from_kind := CASE WHEN m.from_warehouse_id IS NOT NULL THEN 'warehouse'
    WHEN m.kind IN ('return', 'install') THEN 'project' END;
  v_from_id := coalesce(m.from_warehouse_id, CASE WHEN m.kind IN ('return', 'install') THEN m.project_id END);
  v_to_kind := CASE WHEN m.to_warehouse_id IS NOT NULL THEN 'warehouse' WHEN m.kind = 'issue' THEN 'project'
    WHEN m.kind = 'install' THEN 'site' END;
  v_to_id := coalesce(m.to_warehouse_id, CASE m.kind WHEN 'issue' THEN m.project_id WHEN 'install' THEN m.site_id END);
  -- a reversal takes from where the movement put and puts where it took
  IF sign = 1 THEN
    v_take_kind := v_from_kind; v_take_id := v_from_id; v_put_kind := v_to_kind; v_put_id := v_to_id;
  ELSE
    v_take_kind := v_to_kind; v_take_id := v_to_id; v_put_kind := v_from_kind; v_put_id := v_from_id;
  END IF;

  -- An issue to a project first uses up that project's reservation there.
  IF m.kind = 'issue' AND sign = 1 THEN
    UPDATE erp.reservations SET quantity = quantity - least(quantity, m.quantity), version = version + 1, updated_at = now()
    WHERE project_id = m.project_id AND article_id = m.article_id AND warehouse_id = m.from_warehouse_id AND quantity > 0;
  END IF;

  IF v_take_kind = 'warehouse' THEN
    UPDATE erp.stock SET quantity = quantity - m.quantity WHERE article_id = m.article_id AND warehouse_id = v_take_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no stock of the article in the warehouse'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_not_negative';
    END IF;
  ELSIF v_take_kind = 'project' THEN
    UPDATE erp.project_stock SET quantity = quantity - m.quantity WHERE article_id = m.article_id AND project_id = v_take_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'the project holds none of the article'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'project_stock_not_negative';
    END IF;
  END IF;
  IF v_put_kind = 'warehouse' THEN
    INSERT INTO erp.stock (article_id, warehouse_id, quantity) VALUES (m.article_id, v_put_id, m.quantity)
    ON CONFLICT (article_id, warehouse_id) DO UPDATE SET quantity = erp.stock.quantity + m.quantity;
  ELSIF v_put_kind = 'project' THEN
    INSERT INTO erp.project_stock (article_id, project_id, quantity) VALUES (m.article_id, v_put_id, m.quantity)
    ON CONFLICT (project_id, article_id) DO UPDATE SET quantity = erp.project_stock.quantity + m.quantity;
  END IF;

  IF v_serialised THEN
    IF v_take_kind IS NULL THEN
      -- into stock: a new serial number, or one that left (written off) coming back
      INSERT INTO erp.serial_numbers (serial_number, article_id, location_kind, location_id)
      VALUES (m.serial_number, m.article_id, v_put_kind, v_put_id)
      ON CONFLICT (serial_number) DO UPDATE SET location_kind = EXCLUDED.location_kind,
        location_id = EXCLUDED.location_id, updated_at = now()
      WHERE erp.serial_numbers.location_kind = 'gone' AND erp.serial_numbers.article_id = EXCLUDED.article_id;
    ELSE
      UPDATE erp.serial_numbers SET location_kind = coalesce(v_put_kind, 'gone'), location_id = v_put_id, updated_at = now()
      WHERE serial_number = m.serial_number AND article_id = m.article_id
        AND location_kind = v_take_kind AND location_id = v_take_id;
    END IF;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'serial number % is not where the movement takes it from', m.serial_number
        USING ERRCODE = 'check_violation', CONSTRAINT = 'serial_numbers_one_place';
    END IF;
  END IF;
END
$$;

-- A movement's references are checked before it is applied (its foreign keys are checked only
-- after the row is written, and applying it first would report the balance table's key instead).
CREATE FUNCTION erp.require_reference(target regclass, id uuid, col text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  found boolean;
BEGIN
  IF id IS NULL THEN RETURN; END IF;
  EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE id = $1)', target) INTO found USING id;
  IF NOT found THEN
    RAISE EXCEPTION 'Key (%)=(%) is not present in table "%"', col, id, target
      USING ERRCODE = 'foreign_key_violation', COLUMN = col;
  END IF;
END
$$;

-- Every movement (and reversal) is checked and applied in its own INSERT's transaction, as the
-- owner: the application may insert movements but not call apply_movement itself.
CREATE FUNCTION erp.post_movement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_original erp.stock_movements;
BEGIN
  IF NEW.reverses_id IS NULL THEN
    IF NEW.kind IS NULL OR NEW.article_id IS NULL OR NEW.quantity IS NULL THEN
      RAISE EXCEPTION 'a movement names its kind, article and quantity' USING ERRCODE = 'not_null_violation',
        COLUMN = CASE WHEN NEW.kind IS NULL THEN 'kind' WHEN NEW.article_id IS NULL THEN 'article_id' ELSE 'quantity' END;
    END IF;
    PERFORM erp.require_reference('erp.articles', NEW.article_id, 'article_id');
    PERFORM erp.require_reference('erp.warehouses', NEW.from_warehouse_id, 'from_warehouse_id');
    PERFORM erp.require_reference('erp.warehouses', NEW.to_warehouse_id, 'to_warehouse_id');
    PERFORM erp.require_reference('erp.projects', NEW.project_id, 'project_id');
    PERFORM erp.require_reference('erp.sites', NEW.site_id, 'site_id');
    PERFORM erp.check_movement_shape(NEW);
    PERFORM erp.apply_movement(NEW, 1);
    RETURN NEW;
  END IF;
  -- A reversal repeats what it reverses (the body names only reverses_id and notes).
  SELECT * INTO v_original FROM erp.stock_movements WHERE id = NEW.reverses_id;
  IF NOT FOUND OR v_original.reverses_id IS NOT NULL THEN
    RAISE EXCEPTION 'a reversal names a movement that is not itself a reversal'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_reversal';
  END IF;
  IF EXISTS (SELECT FROM erp.stock_movements WHERE reverses_id = NEW.reverses_id) THEN
    -- (two reversals racing both get here; the unique index refuses the second at its insert)
    RAISE EXCEPTION 'movement % was reversed already', NEW.reverses_id
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'stock_movements_reverses_id_key';
  END IF;
  NEW.kind := v_original.kind;
  NEW.article_id := v_original.article_id;
  NEW.quantity := v_original.quantity;
  NEW.from_warehouse_id := v_original.from_warehouse_id;
  NEW.to_warehouse_id := v_original.to_warehouse_id;
  NEW.project_id := v_original.project_id;
  NEW.site_id := v_original.site_id;
  NEW.serial_number := v_original.serial_number;
  PERFORM erp.apply_movement(v_original, -1);
  RETURN NEW;
END
$$;
CREATE TRIGGER stock_movements_post BEFORE INSERT ON erp.stock_movements
  FOR EACH ROW EXECUTE FUNCTION erp.post_movement();

-- Balances and serial locations change only through the ledger and reservations (whose trigger
-- functions run as the owner); the application may read them. The ledger itself: insert and read.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON erp.stock, erp.project_stock, erp.serial_numbers FROM steinmetz_app;
REVOKE UPDATE, DELETE, TRUNCATE ON erp.stock_movements FROM steinmetz_app;
REVOKE EXECUTE ON FUNCTION erp.apply_movement(erp.stock_movements, integer) FROM PUBLIC;
