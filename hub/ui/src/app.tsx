/** The hub's web app: login, then every entity the user may read, with lists, records and the command palette. */
import { ErrorNotice } from "@steinmetz/ui-kit/form.js";
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, get, setAuthRequiredHandler, setCsrfToken } from "./api.js";
import { describeError } from "./errors.js";
import { allows, grants, SCREEN_TEXT, WORK_SCREENS } from "./grants.js";
import { label, lang, t, toggleLang } from "./i18n.js";
import type { EntityMeta } from "./meta.js";
import { ApprovalsPage } from "./pages/approvals.js";
import { BoardPage } from "./pages/board.js";
import { CommandsPage } from "./pages/commands.js";
import { ListPage } from "./pages/list.js";
import { LoginPage } from "./pages/login.js";
import { RecordPage } from "./pages/record.js";
import { SagasPage } from "./pages/sagas.js";
import { StockPage } from "./pages/stock.js";
import { CommandPalette, ShortcutHelp } from "./palette.js";
import { recentRecords } from "./recent.js";
import { listHref, recordHref, route } from "./router.js";
import { useSignal } from "./signal.js";

interface Me {
  principal: { id: string; name?: string; roles: string[] };
  grants: string[];
  user?: { email: string; displayName?: string | null } | null;
  csrfToken?: string | null;
}

/** The data pages, their own chunk. */
function DataPages(props: { name: string; query: URLSearchParams }) {
  const [Page, setPage] = useState<FunctionComponent<{ name: string; query: URLSearchParams }> | null>(null);
  useEffect(() => {
    void import("./pages/data.js").then((m) => setPage(() => m.DataPage));
  }, []);
  return Page ? <Page {...props} /> : <p aria-busy="true">{t("loading")}</p>;
}

type Session = { state: "loading" } | { state: "anonymous" } | { state: "in"; me: Me; entities: EntityMeta[] };

function Home({ entities }: { entities: EntityMeta[] }) {
  const recent = recentRecords();
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title">{t("home")}</h1>
      <ul class="tiles">
        {entities.map((e) => (
          <li key={e.name}>
            <a href={listHref(e.name)} data-testid={`tile-${e.name}`}>
              {label(e.plural)}
            </a>
          </li>
        ))}
      </ul>
      {recent.length > 0 && (
        <>
          <h2>{t("recent")}</h2>
          <ul class="recent">
            {recent.map((r) => (
              <li key={r.entity + r.id}>
                <a href={recordHref(r.entity, r.id)}>
                  {label(entities.find((e) => e.name === r.entity)?.label ?? { de: r.entity, en: r.entity })}: {r.title}
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function App() {
  useSignal(lang);
  const current = useSignal(route);
  const [session, setSession] = useState<Session>({ state: "loading" });
  const [error, setError] = useState<unknown>(null);
  const [palette, setPalette] = useState(false);
  const [help, setHelp] = useState(false);

  const enter = async () => {
    try {
      const me = await get<Me>("/auth/me");
      if (me.csrfToken) setCsrfToken(me.csrfToken);
      grants.set(me.grants);
      const { entities } = await get<{ entities: EntityMeta[] }>("/meta/entities");
      setSession({ state: "in", me, entities });
    } catch (err) {
      if ((err as { status?: number }).status === 401) setSession({ state: "anonymous" });
      else setError(err);
    }
  };
  useEffect(() => {
    setAuthRequiredHandler(() => setSession({ state: "anonymous" }));
    void enter();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLElement && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setPalette(true);
      } else if (e.key === "?" && !typing) {
        e.preventDefault();
        setHelp(true);
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  if (error) return <ErrorNotice {...describeError(error)} othersLabel={t("otherProblems")} />;
  if (session.state === "loading") return <p aria-busy="true">{t("loading")}</p>;
  if (session.state === "anonymous") return <LoginPage onLoggedIn={() => void enter()} />;

  const { me, entities } = session;
  const entity = "entity" in current ? entities.find((e) => e.name === current.entity) : undefined;
  let page = <p data-testid="not-found">{t("notFound")}</p>;
  if (current.page === "home") page = <Home entities={entities} />;
  else if (current.page === "approvals" && allows("approvals:read")) page = <ApprovalsPage userId={me.principal.id} />;
  else if (current.page === "sagas" && allows("sagas:read")) page = <SagasPage />;
  else if (current.page === "commands" && allows("commands:read")) page = <CommandsPage />;
  else if (current.page === "stock" && allows("inventory:read")) page = <StockPage />;
  else if (current.page === "data" && allows(current.name === "audit" ? "audit:read" : "warehouse:read"))
    page = <DataPages key={current.name} name={current.name} query={current.query} />;
  else if (current.page === "board" && entity?.workflow) page = <BoardPage key={entity.name} meta={entity} />;
  else if (current.page === "list" && entity) page = <ListPage key={entity.name} meta={entity} query={current.query} />;
  else if (current.page === "record" && entity)
    page = <RecordPage key={`${entity.name}/${current.id}`} meta={entity} id={current.id} entities={entities} />;

  return (
    <div class="shell">
      <a class="skip" href="#main">
        {t("skipToContent")}
      </a>
      <header class="top">
        <a class="brand" href="#/">
          {t("appName")}
        </a>
        <button
          type="button"
          class="secondary palette-open"
          onClick={() => setPalette(true)}
          aria-keyshortcuts="Control+K"
        >
          {t("palette")} <kbd>Ctrl+K</kbd>
        </button>
        <span class="user" data-testid="user">
          {me.user?.displayName || me.user?.email || me.principal.name || me.principal.id}
        </span>
        <button type="button" class="link" onClick={toggleLang} data-testid="language">
          {t("language")}
        </button>
        <button
          type="button"
          class="secondary"
          data-testid="logout"
          onClick={async () => {
            await call("/auth/logout", { method: "POST" }).catch(() => undefined);
            setCsrfToken(null);
            setSession({ state: "anonymous" });
          }}
        >
          {t("logout")}
        </button>
      </header>
      <nav class="side" aria-label={t("home")}>
        <ul>
          {WORK_SCREENS.filter((w) => allows(w.permission)).map((w) => (
            <li key={w.page}>
              <a
                href={`#/${w.page}`}
                aria-current={location.hash.startsWith(`#/${w.page}`) ? "page" : undefined}
                data-testid={`nav-${w.page.replace("/", "-")}`}
              >
                {t(SCREEN_TEXT[w.page])}
              </a>
            </li>
          ))}
          {entities.map((e) => (
            <li key={e.name}>
              <a
                href={listHref(e.name)}
                aria-current={entity?.name === e.name ? "page" : undefined}
                data-testid={`nav-${e.name}`}
              >
                {label(e.plural)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
      <CommandPalette open={palette} onClose={() => setPalette(false)} entities={entities} />
      <ShortcutHelp open={help} onClose={() => setHelp(false)} />
    </div>
  );
}
