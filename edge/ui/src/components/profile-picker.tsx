/** A searchable profile picker: a search box filtering `GET /api/v1/profiles?q=` and a select. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { useDebounced } from "../hooks.js";
import { t, tx } from "../i18n.js";
import type { ProfileInfo } from "../types.js";
import { ErrorBox, Field, Select } from "./form.js";

/** Props of `ProfilePicker`. */
export interface ProfilePickerProps {
  transport: "modbus" | "mqtt";
  value: string;
  onValue: (ref: string, profile: ProfileInfo | undefined) => void;
  disabled?: boolean;
  error?: string | undefined;
}

function label(p: ProfileInfo): string {
  return `${p.brand} ${p.product} · ${tx(`c.${p.class}`, p.class)} (${p.ref})`;
}

/** Picks a profile of `transport`; the select carries `data-testid="wizard-profile"`. */
export function ProfilePicker({ transport, value, onValue, disabled, error }: ProfilePickerProps) {
  const [query, setQuery] = useState("");
  const q = useDebounced(query, 250);
  const [results, setResults] = useState<ProfileInfo[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const known = useRef(new Map<string, ProfileInfo>());

  useEffect(() => {
    let stale = false;
    api<ProfileInfo[]>(`/api/v1/profiles?q=${encodeURIComponent(q.trim())}`)
      .then((list) => {
        if (stale) return;
        for (const p of list) known.current.set(p.ref, p);
        setResults(list.filter((p) => p.transport === transport));
        setLoadError(null);
      })
      .catch((err) => {
        if (!stale) setLoadError(err);
      });
    return () => {
      stale = true;
    };
  }, [q, transport]);

  // Tell the parent about the profile's details once they are known (e.g. preselected by a scan).
  const selected = known.current.get(value);
  useEffect(() => {
    if (value && selected) onValue(value, selected);
  }, [value, selected !== undefined]);

  const options = [{ value: "", label: t("profileNone") }, ...results.map((p) => ({ value: p.ref, label: label(p) }))];
  if (value && !results.some((p) => p.ref === value)) {
    options.splice(1, 0, { value, label: selected ? label(selected) : value });
  }
  return (
    <div class="profile-picker">
      <Field
        id="wizard-profile-search"
        type="search"
        label={t("profileSearch")}
        value={query}
        onValue={setQuery}
        disabled={disabled}
        testId="wizard-profile-search"
        autocomplete="off"
      />
      <Select
        id="wizard-profile"
        label={t("profile")}
        value={value}
        onValue={(ref) => onValue(ref, known.current.get(ref))}
        options={options}
        disabled={disabled}
        error={error}
        testId="wizard-profile"
      />
      {results.length === 0 && !loadError && query && <p class="hint">{t("profileNoMatch")}</p>}
      <ErrorBox error={loadError} />
    </div>
  );
}
