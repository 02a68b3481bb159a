import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import type { Logger } from "pino";
import { verifyPassword } from "./password.js";

/** A user allowed to connect to the embedded broker. */
export interface BrokerUser {
  username: string;
  /** `hashPassword` output; plain passwords never live in configuration. */
  passwordHash: string;
}

/** Settings of the embedded broker. */
export interface BrokerOptions {
  /** 127.0.0.1 unless the installer opens it to the LAN. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  users: BrokerUser[];
  log: Logger;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  port: number;
  close(): Promise<void>;
}

const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * The edge's embedded MQTT broker (aedes), so devices on site (smart meters, DTU gateways) can
 * publish to the appliance itself. Every client must authenticate; a failed login is logged with
 * the username and address, never the password.
 */
export async function startBroker(options: BrokerOptions): Promise<EmbeddedBroker> {
  const { log } = options;
  const users = new Map(options.users.map((u) => [u.username, u.passwordHash]));
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const hash = username === undefined ? undefined : users.get(username);
      if (hash && password && verifyPassword(password.toString("utf8"), hash)) {
        done(null, true);
        return;
      }
      log.warn({ username, client: client.id }, "MQTT login refused");
      done(Object.assign(new Error("bad username or password"), { returnCode: BAD_USERNAME_OR_PASSWORD }), false);
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  log.info({ host: options.host, port }, "embedded MQTT broker listening");
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
