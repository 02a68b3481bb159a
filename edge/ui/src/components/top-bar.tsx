/** The top bar: site name, navigation (a menu button on phones), language switch and user menu. */
import { useEffect, useState } from "preact/hooks";
import { currentLang, type Lang, t } from "../i18n.js";
import type { User } from "../types.js";

/** A page reachable from the navigation. */
export interface NavItem {
  route: string;
  label: string;
}

/** Props of `TopBar`. */
export interface TopBarProps {
  site: string;
  route: string;
  nav: NavItem[];
  user: User | null;
  /** The Node-RED editor (opens in a new tab); none when it does not run. */
  nodeRedUrl?: string | null;
  onLang: (lang: Lang) => void;
  onLogout?: () => void;
}

/** Buttons DE / EN, the current one pressed. */
export function LangSwitch({ onLang }: { onLang: (lang: Lang) => void }) {
  const lang = currentLang();
  return (
    <fieldset class="lang">
      <legend class="visually-hidden">{t("language")}</legend>
      {(["de", "en"] as const).map((l) => (
        <button
          key={l}
          type="button"
          class="lang-button"
          aria-pressed={lang === l ? "true" : "false"}
          aria-label={l === "de" ? t("langDe") : t("langEn")}
          lang={l}
          onClick={() => onLang(l)}
          data-testid={`lang-${l}`}
        >
          {l.toUpperCase()}
        </button>
      ))}
    </fieldset>
  );
}

/** The application's top bar. */
export function TopBar({ site, route, nav, user, nodeRedUrl, onLang, onLogout }: TopBarProps) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [route]);
  const top = route.split("/")[0];
  return (
    <header class="top-bar">
      <div class="brand">
        <span class="logo" aria-hidden="true">
          ☀
        </span>
        <span class="site" data-testid="site-name">
          {site || t("appName")}
        </span>
      </div>
      {nav.length > 0 && (
        <button
          type="button"
          class="menu-button"
          aria-expanded={open ? "true" : "false"}
          aria-controls="main-nav"
          onClick={() => setOpen(!open)}
          data-testid="menu-button"
        >
          <span aria-hidden="true">☰</span> <span class="menu-label">{t("menu")}</span>
        </button>
      )}
      {nav.length > 0 && (
        <nav id="main-nav" class={open ? "main-nav open" : "main-nav"} aria-label={t("mainNav")}>
          <ul>
            {nav.map((item) => (
              <li key={item.route}>
                <a
                  href={`#/${item.route}`}
                  aria-current={top === item.route ? "page" : undefined}
                  data-testid={`nav-${item.route}`}
                >
                  {item.label}
                </a>
              </li>
            ))}
            {nodeRedUrl && (
              <li>
                <a
                  href={nodeRedUrl}
                  target="_blank"
                  rel="noopener noreferrer"
                  title={t("navNodeRedTitle")}
                  data-testid="nav-node-red"
                >
                  {t("navNodeRed")} <span aria-hidden="true">↗</span>
                </a>
              </li>
            )}
          </ul>
        </nav>
      )}
      <div class="tools">
        <LangSwitch onLang={onLang} />
        {user && (
          <details class="user-menu">
            <summary aria-label={`${t("userMenu")}: ${user.username}`} data-testid="user-menu">
              <span class="user-name">{user.username}</span>{" "}
              <span class="role" data-testid="user-role" data-role={user.role}>
                {user.role === "installer" ? t("roleInstaller") : t("roleViewer")}
              </span>
            </summary>
            <ul>
              <li>
                <a class="menu-item" href="#/password">
                  {t("changePassword")}
                </a>
              </li>
              <li>
                <button type="button" class="link menu-item" onClick={onLogout} data-testid="logout">
                  {t("logout")}
                </button>
              </li>
            </ul>
          </details>
        )}
      </div>
    </header>
  );
}
