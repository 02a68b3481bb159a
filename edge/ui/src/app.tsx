/** The app: session (setup, login), hash routes, top bar and pages. */
import { useEffect, useState } from "preact/hooks";
import { api, setAuthRequiredHandler, setCsrfToken } from "./api.js";
import { ErrorBox } from "./components/form.js";
import { type NavItem, TopBar } from "./components/top-bar.js";
import { type Lang, setLang, t } from "./i18n.js";
import { AddDevicePage } from "./pages/add-device.js";
import { ChartsPage } from "./pages/charts.js";
import { DashboardPage } from "./pages/dashboard.js";
import { DevicesPage } from "./pages/devices.js";
import { HistoryPage } from "./pages/history.js";
import { LoginPage } from "./pages/login.js";
import { PasswordPage } from "./pages/password.js";
import { SettingsPage } from "./pages/settings.js";
import { SetupPage } from "./pages/setup.js";
import { SyncPage } from "./pages/sync.js";
import type { EdgeStatus, Session, User } from "./types.js";

function routeFromHash(): string {
  return location.hash.replace(/^#\/?/, "") || "dashboard";
}

/**
 * The Node-RED editor's address as this browser reaches it: the edge's own host name (as typed
 * into the address bar; the agent may listen on 0.0.0.0) and the port the agent reports.
 */
function nodeRedUrlOf(status: EdgeStatus | null): string | null {
  const port = status?.nodeRed?.port;
  return port ? `${location.protocol}//${location.hostname}:${port}/` : null;
}

/** Goes to a route (`devices`, `devices/add`, ...). */
export function navigate(route: string): void {
  location.hash = `#/${route}`;
}

/** The whole UI. */
export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [route, setRoute] = useState(routeFromHash());
  const [, setLangState] = useState<Lang>("de");
  const [nodeRedUrl, setNodeRedUrl] = useState<string | null>(null);

  const loadSession = async () => {
    try {
      const s = await api<Session>("/api/v1/session");
      setCsrfToken(s.csrfToken);
      setSession(s);
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  };

  useEffect(() => {
    setAuthRequiredHandler(() => {
      setCsrfToken(null);
      setSession((s) => (s ? { ...s, user: null, csrfToken: null } : s));
    });
    const onHash = () => setRoute(routeFromHash());
    window.addEventListener("hashchange", onHash);
    void loadSession();
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    const page = route.split("/")[0] ?? "";
    const titles: Record<string, string> = {
      dashboard: t("navDashboard"),
      charts: t("navCharts"),
      devices: t("navDevices"),
      sync: t("navSync"),
      settings: t("navSettings"),
      history: t("navHistory"),
    };
    document.title = `${titles[page] ?? t("appName")} – ${session?.site || t("appName")}`;
  });

  // Whether Node-RED runs, and where, once someone is signed in (it does not change while the agent runs).
  const signedInUser = session?.user?.username ?? null;
  useEffect(() => {
    if (!signedInUser) return;
    let stopped = false;
    api<EdgeStatus>("/api/v1/status")
      .then((status) => !stopped && setNodeRedUrl(nodeRedUrlOf(status)))
      .catch(() => {});
    return () => {
      stopped = true;
    };
  }, [signedInUser]);

  const onLang = (lang: Lang) => {
    setLang(lang);
    setLangState(lang);
  };

  const signedIn = (user: User, csrfToken: string, site?: string) => {
    setCsrfToken(csrfToken);
    setSession((s) => ({ setupRequired: false, user, csrfToken, site: site ?? s?.site ?? "" }));
    if (!location.hash || location.hash === "#/") navigate("dashboard");
  };

  const logout = async () => {
    try {
      await api("/api/v1/logout", { method: "POST" });
    } catch {
      // the session ends here either way
    }
    setCsrfToken(null);
    setSession((s) => (s ? { ...s, user: null, csrfToken: null } : s));
  };

  if (!session) {
    return (
      <>
        <TopBar site="" route="" nav={[]} user={null} onLang={onLang} />
        <main class="page narrow">
          {loadError ? (
            <>
              <ErrorBox error={loadError} />
              <button type="button" onClick={() => void loadSession()}>
                {t("refresh")}
              </button>
            </>
          ) : (
            <p aria-busy="true">{t("loading")}</p>
          )}
        </main>
      </>
    );
  }

  if (session.setupRequired || !session.user) {
    return (
      <>
        <TopBar site={session.site} route="" nav={[]} user={null} onLang={onLang} />
        <main class="page narrow">
          {session.setupRequired ? (
            <SetupPage
              onDone={(user, csrf, site) => {
                signedIn(user, csrf, site);
                navigate("dashboard");
              }}
            />
          ) : (
            <LoginPage onDone={(user, csrf) => signedIn(user, csrf)} />
          )}
        </main>
      </>
    );
  }

  const user = session.user;
  const nav: NavItem[] = [
    { route: "dashboard", label: t("navDashboard") },
    { route: "charts", label: t("navCharts") },
    { route: "devices", label: t("navDevices") },
    { route: "sync", label: t("navSync") },
    { route: "settings", label: t("navSettings") },
    { route: "history", label: t("navHistory") },
  ];
  let page = <DashboardPage />;
  if (route === "charts") page = <ChartsPage />;
  else if (route === "devices") page = <DevicesPage user={user} />;
  else if (route === "devices/add") page = <AddDevicePage user={user} />;
  else if (route === "sync") page = <SyncPage />;
  else if (route === "settings") page = <SettingsPage user={user} onSiteChanged={() => void loadSession()} />;
  else if (route === "history") page = <HistoryPage user={user} />;
  else if (route === "password") page = <PasswordPage />;

  return (
    <>
      <TopBar
        site={session.site}
        route={route}
        nav={nav}
        user={user}
        nodeRedUrl={nodeRedUrl}
        onLang={onLang}
        onLogout={() => void logout()}
      />
      <main class="page" id="main" key={route}>
        {page}
      </main>
    </>
  );
}
