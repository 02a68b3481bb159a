/** Ctrl+K: go to any list, a recent record, or create a new record, by typing; keyboard only. */
import { Modal } from "@steinmetz/ui-kit/dialog.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { allows, SCREEN_TEXT, WORK_SCREENS } from "./grants.js";
import { label, t } from "./i18n.js";
import type { EntityMeta } from "./meta.js";
import { recentRecords } from "./recent.js";
import { listHref, navigate, recordHref } from "./router.js";

interface Choice {
  text: string;
  href: string;
}

function choices(entities: EntityMeta[]): Choice[] {
  return [
    { text: t("goTo", { target: t("home") }), href: "#/" },
    ...WORK_SCREENS.filter((w) => allows(w.permission)).map((w) => ({
      text: t("goTo", { target: t(SCREEN_TEXT[w.page]) }),
      href: `#/${w.page}`,
    })),
    ...entities.map((e) => ({ text: t("goTo", { target: label(e.plural) }), href: listHref(e.name) })),
    ...entities
      .filter((e) => e.canWrite)
      .map((e) => ({ text: t("createNew", { target: label(e.label) }), href: recordHref(e.name, null) })),
    ...recentRecords().map((r) => {
      const e = entities.find((x) => x.name === r.entity);
      return { text: `${e ? label(e.label) : r.entity}: ${r.title}`, href: recordHref(r.entity, r.id) };
    }),
  ];
}

export function CommandPalette({
  open,
  onClose,
  entities,
}: {
  open: boolean;
  onClose: () => void;
  entities: EntityMeta[];
}) {
  const [q, setQ] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (open) {
      setQ("");
      setActive(0);
      // after the dialog opened (its effect runs first)
      input.current?.focus();
    }
  }, [open]);
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = choices(entities)
    .filter((c) => words.every((w) => c.text.toLowerCase().includes(w)))
    .slice(0, 12);
  const go = (c: Choice | undefined) => {
    if (!c) return;
    onClose();
    navigate(c.href);
  };
  return (
    <Modal open={open} onClose={onClose} labelledBy="palette-title" class="palette" testId="palette">
      <h2 id="palette-title" class="visually-hidden">
        {t("palette")}
      </h2>
      <input
        type="text"
        role="combobox"
        aria-expanded="true"
        aria-controls="palette-list"
        aria-activedescendant={shown[active] ? `palette-${active}` : undefined}
        aria-label={t("palette")}
        placeholder={t("palettePlaceholder")}
        value={q}
        ref={input}
        onInput={(e) => {
          setQ(e.currentTarget.value);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive(Math.min(active + 1, shown.length - 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive(Math.max(active - 1, 0));
          } else if (e.key === "Enter") {
            e.preventDefault();
            go(shown[active]);
          }
        }}
        data-testid="palette-input"
      />
      <div id="palette-list" role="listbox" aria-label={t("palette")}>
        {shown.map((c, i) => (
          <div
            key={c.href + c.text}
            id={`palette-${i}`}
            role="option"
            tabIndex={-1}
            aria-selected={i === active}
            onMouseDown={(e) => {
              e.preventDefault();
              go(c);
            }}
          >
            {c.text}
          </div>
        ))}
      </div>
    </Modal>
  );
}

export function ShortcutHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const rows: [string, string][] = [
    ["Ctrl+K", t("shortcutPalette")],
    ["?", t("shortcutHelp")],
    ["Ctrl+S", t("shortcutSave")],
    ["Esc", t("shortcutClose")],
  ];
  return (
    <Modal open={open} onClose={onClose} labelledBy="help-title" class="help" testId="shortcuts">
      <h2 id="help-title">{t("shortcuts")}</h2>
      <dl>
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>
              <kbd>{k}</kbd>
            </dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={onClose}>
        {t("close")}
      </button>
    </Modal>
  );
}
