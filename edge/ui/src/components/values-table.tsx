/** The table of a device's point values (live view and test read): point, value, unit, quality. */
import { plainValue } from "../format.js";
import { t, tx } from "../i18n.js";

/** A point name that may wrap after its underscores on narrow screens. */
export function PointName({ point }: { point: string }) {
  const parts = point.split("_");
  return <>{parts.map((part, i) => (i < parts.length - 1 ? [part, "_", <wbr key={`w${i}`} />] : part))}</>;
}

/** One row's data. */
export interface PointValue {
  point: string;
  value: number | null;
  unit: string;
  quality: string;
}

/** Values with units; a quality other than good is marked. `cellTestId` names each value cell. */
export function ValuesTable({
  values,
  cellTestId,
  testId,
}: {
  values: PointValue[];
  cellTestId: (point: string) => string;
  testId?: string;
}) {
  return (
    <div class="table-scroll">
      <table class="values" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("point")}</th>
            <th scope="col" class="num">
              {t("value")}
            </th>
            <th scope="col">{t("unit")}</th>
            <th scope="col">{t("quality")}</th>
          </tr>
        </thead>
        <tbody>
          {values.map((v) => (
            <tr key={v.point} class={v.quality === "good" ? undefined : "bad-quality"}>
              <th scope="row">
                <PointName point={v.point} />
              </th>
              <td class="num" data-testid={cellTestId(v.point)}>
                {plainValue(v.value)}
              </td>
              <td>{v.unit}</td>
              <td data-quality={v.quality}>
                {v.quality === "good" ? (
                  tx("q.good", "good")
                ) : (
                  <span class="quality-warn">
                    <span aria-hidden="true">⚠ </span>
                    {tx(`q.${v.quality}`, v.quality)}
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
