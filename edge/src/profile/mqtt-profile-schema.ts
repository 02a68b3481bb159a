import { type Static, Type } from "@sinclair/typebox";

/** Schema of an MQTT device profile (`protocol: mqtt`). */
export const MqttProfileSchema = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9]+(-[a-z0-9]+)*$" }),
    class: Type.String({ minLength: 1 }),
    brand: Type.String({ minLength: 1 }),
    product: Type.String({ minLength: 1 }),
    protocol: Type.Literal("mqtt"),
    /** Variables the device configuration must give (`vars`), e.g. the topic prefix; used as `{name}`. */
    vars: Type.Array(Type.String({ pattern: "^[a-z][a-zA-Z0-9_]*$" }), { default: [] }),
    /**
     * The device's identity as far as the profile knows it (templates with `{variables}`, e.g.
     * `serialNumber: "{serial}"`), reported to the hub with the device inventory. Absent fields
     * are reported as unknown.
     */
    identity: Type.Optional(
      Type.Object(
        {
          manufacturer: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          serialNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          firmware: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    points: Type.Array(
      Type.Object(
        {
          id: Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
          /** Topic (template) the value arrives on. */
          topic: Type.String({ minLength: 1 }),
          /** Dot path into a JSON payload (`ENERGY.Total`, `a.b.0`); absent: the payload is the number. */
          path: Type.Optional(Type.String({ minLength: 1 })),
          /** Factor to the nature's unit (kWh → Wh: 1000). */
          factor: Type.Optional(Type.Number()),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
/** A validated MQTT profile. */
export type MqttProfile = Static<typeof MqttProfileSchema>;
/** One point of an MQTT profile. */
export type MqttPoint = MqttProfile["points"][number];

/** Replaces `{name}` in a template with the device's variables. */
export function fillTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}
