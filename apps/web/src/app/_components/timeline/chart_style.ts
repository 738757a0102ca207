/** What the timeline's recharts charts share: axis and tooltip styles, the time-axis label. */

/** The charts poll their series this often (the pageserver samples once a second). */
export const CHART_REFRESH_MS = 2000;
export const CHART_AXIS = { stroke: "#475569", fontSize: 11 };
export const CHART_TOOLTIP_STYLE = { background: "#0a0f1c", border: "1px solid #24324f" };

/** A sample's second (Unix time) as `mm:ss`, the label of the charts' time axis. */
export function chartClock(second: number): string {
  return new Date(second * 1000).toLocaleTimeString([], { minute: "2-digit", second: "2-digit" });
}
