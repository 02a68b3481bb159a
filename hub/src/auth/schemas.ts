import { type Static, Type } from "@sinclair/typebox";
import { ROLES } from "../platform/principal.js";

/** One of the hub's roles. */
export const RoleSchema = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: "admin, office, project_manager, technician, accountant, analyst or auditor" },
);

const Email = Type.String({ minLength: 3, maxLength: 320, pattern: "^[^@\\s]+@[^@\\s]+$" });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const NewPassword = Type.String({ minLength: 12, maxLength: 1024, description: "at least 12 characters" });

/** A user (never the password hash). */
export const UserItem = Type.Object({
  id: Type.String({ format: "uuid" }),
  email: Type.String(),
  displayName: Type.String(),
  roles: Type.Array(RoleSchema),
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  version: Type.Integer({ description: "send as If-Match to change or delete the user" }),
});

export const LoginBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
export type LoginBody = Static<typeof LoginBody>;

export const LoginReply = Type.Object({
  token: Type.String({ description: "the session token: the hub_session cookie's value, also usable as Bearer" }),
  csrfToken: Type.String({ description: "send as x-csrf-token with unsafe requests authenticated by the cookie" }),
  expiresAt: Type.String({ format: "date-time", description: "the session ends then at the latest" }),
  user: UserItem,
});

export const MeReply = Type.Object({
  principal: Type.Object({
    id: Type.String(),
    kind: Type.Union([Type.Literal("user"), Type.Literal("token")]),
    name: Type.String(),
    roles: Type.Array(RoleSchema),
  }),
  user: UserItem,
  grants: Type.Array(Type.String(), { description: "what the roles allow (see the role table in the README)" }),
  csrfToken: Type.Union([Type.String(), Type.Null()], {
    description: "the session's CSRF token (a web app reloaded needs it again); null for a bearer token",
  }),
});

export const PasswordBody = Type.Object(
  { currentPassword: Password, newPassword: NewPassword },
  { additionalProperties: false },
);

/** An API token (its secret only in the answer to its creation). */
export const TokenItem = Type.Object({
  id: Type.String({ format: "uuid" }),
  name: Type.String(),
  roles: Type.Array(RoleSchema),
  createdAt: Type.String({ format: "date-time" }),
  expiresAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

export const TokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1, description: "default: all of the user's roles" })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: "default: never expires" })),
  },
  { additionalProperties: false },
);

export const IssuedToken = Type.Intersect([
  TokenItem,
  Type.Object({ token: Type.String({ description: "Authorization: Bearer <token>; shown only now" }) }),
]);

export const UserCreateBody = Type.Object(
  {
    email: Email,
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    roles: Type.Array(RoleSchema, { minItems: 1 }),
    password: NewPassword,
  },
  { additionalProperties: false },
);

export const UserPatchBody = Type.Object(
  {
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    roles: Type.Optional(Type.Array(RoleSchema, { minItems: 1 })),
    disabled: Type.Optional(Type.Boolean({ description: "true ends the user's sessions; tokens stop working" })),
    password: Type.Optional(NewPassword),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
