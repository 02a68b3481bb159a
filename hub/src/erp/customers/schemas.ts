import { type Static, Type } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Text = (maxLength: number) => Type.String({ maxLength });

/** Editable fields of a customer; `name` is required on create. */
const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Nullable(Type.String({ maxLength: 254, pattern: "^[^@\\s]+@[^@\\s]+$" })),
  phone: Nullable(Text(50)),
  street: Nullable(Text(200)),
  postalCode: Nullable(Text(20)),
  city: Nullable(Text(100)),
  country: Type.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166-1 alpha-2, default DE" }),
  vatId: Nullable(Text(30)),
  notes: Nullable(Text(4000)),
};

/** A customer as the API returns it. */
export const Customer = Type.Object({
  id: Type.String({ format: "uuid" }),
  name: fields.name,
  email: fields.email,
  phone: fields.phone,
  street: fields.street,
  postalCode: fields.postalCode,
  city: fields.city,
  country: fields.country,
  vatId: fields.vatId,
  notes: fields.notes,
  version: Type.Integer({ minimum: 1, description: "also sent as ETag; send it back in If-Match to change" }),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});
export type Customer = Static<typeof Customer>;

/** Body of POST /customers. */
export const CustomerCreate = Type.Object(
  {
    name: fields.name,
    email: Type.Optional(fields.email),
    phone: Type.Optional(fields.phone),
    street: Type.Optional(fields.street),
    postalCode: Type.Optional(fields.postalCode),
    city: Type.Optional(fields.city),
    country: Type.Optional(fields.country),
    vatId: Type.Optional(fields.vatId),
    notes: Type.Optional(fields.notes),
  },
  { additionalProperties: false },
);
export type CustomerCreate = Static<typeof CustomerCreate>;

/** Body of PATCH /customers/:id (JSON merge patch: fields present are set, null clears). */
export const CustomerPatch = Type.Partial(CustomerCreate, { additionalProperties: false, minProperties: 1 });
export type CustomerPatch = Static<typeof CustomerPatch>;

/** Path parameter. */
export const CustomerParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/** Query of GET /customers. */
export const CustomerListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);
export type CustomerListQuery = Static<typeof CustomerListQuery>;

/** Response of GET /customers, oldest first. */
export const CustomerPage = Type.Object({
  items: Type.Array(Customer),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
