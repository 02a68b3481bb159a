import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HttpProblem } from "./problem.js";
import { LoginLimiter, type Session, SessionStore } from "./sessions.js";
import type { Role, User, UserStore } from "./users.js";

/** Who may call a route: anyone, any logged-in user, or installers only. */
export type Access = "public" | Role;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Installer-only when not declared: a new route is closed until it says otherwise. */
    access?: Access;
    /** Unsafe public routes that run before a session exists (setup, login) skip the CSRF check. */
    csrfExempt?: boolean;
  }
  interface FastifyRequest {
    session?: Session;
    sessionToken?: string;
  }
}

/** The session cookie. */
export const SESSION_COOKIE = "edge_session";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Auth state shared by the hook and the account routes. */
export interface Auth {
  users: UserStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  /** Starts a session for `user` and sets its cookie. */
  login(reply: FastifyReply, user: User): Session;
}

/**
 * Authentication and authorisation for every route: the session from the httpOnly, SameSite=Strict
 * cookie; 401 without one unless the route is public; 403 when the role is not enough; the
 * session's CSRF token in `x-csrf-token` on every unsafe request (a custom header no cross-site
 * page can send without a CORS preflight, which the edge never grants).
 */
export function installAuth(app: FastifyInstance, users: UserStore): Auth {
  const sessions = new SessionStore();
  const auth: Auth = {
    users,
    sessions,
    limiter: new LoginLimiter(),
    login(reply, user) {
      const { token, session } = sessions.create(user);
      reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: "strict", path: "/" });
      return session;
    },
  };
  app.addHook("onRequest", async (req: FastifyRequest) => {
    const token = req.cookies[SESSION_COOKIE];
    const session = sessions.get(token);
    if (session) {
      req.session = session;
      req.sessionToken = token;
    }
    const access = req.routeOptions.config.access ?? "installer";
    if (UNSAFE.has(req.method)) {
      if (req.routeOptions.config.csrfExempt) {
        // Login and setup run before a session exists: a JSON body type cannot come from a
        // cross-site form, and a cross-site script cannot send it without a CORS preflight.
        if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) {
          throw new HttpProblem("EDGE_ERR_CSRF", "send the body as application/json");
        }
      } else if (session && req.headers["x-csrf-token"] !== session.csrfToken) {
        throw new HttpProblem("EDGE_ERR_CSRF", "missing or wrong x-csrf-token header");
      }
    }
    if (access === "public") return;
    if (!session) throw new HttpProblem("EDGE_ERR_AUTH_REQUIRED", "log in first");
    if (access === "installer" && session.user.role !== "installer") {
      throw new HttpProblem("EDGE_ERR_FORBIDDEN", `${req.method} ${req.routeOptions.url} needs the installer role`);
    }
  });
  return auth;
}
