/** Entry of the installer UI: styles and the app. */
import "./locale-guard.js";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { App } from "./app.js";
import { currentLang, setLang } from "./i18n.js";

setLang(currentLang());
const root = document.getElementById("app");
if (root) render(<App />, root);
