/**
 * A small log-log line chart as standalone SVG (no chart package): one or more panels side by
 * side, decade grid lines with minor ticks, a legend under the panels.
 */

export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly dashed?: boolean;
  /** [x, y] pairs; non-positive values are drawn at the panel's lower bound. */
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartPanel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Lowest y shown (a positive power of ten or fraction); smaller values are clamped to it. */
  readonly yFloor: number;
  readonly series: readonly ChartSeries[];
}

export interface ChartOptions {
  readonly title: string;
  readonly note?: string;
}

const PANEL_WIDTH = 470;
const PANEL_HEIGHT = 360;
const MARGIN = { left: 72, right: 18, top: 34, bottom: 52 } as const;
const HEADER = 46;
const LEGEND_ROW = 20;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** 10⁵-style label for a power of ten; plain numbers between 0.01 and 10^4 where they read better. */
export function decadeLabel(exponent: number, plainUpTo = 4): string {
  if (exponent >= -2 && exponent <= plainUpTo) return String(Number((10 ** exponent).toPrecision(1)));
  const digits = String(Math.abs(exponent))
    .split('')
    .map((d) => SUPERSCRIPT[Number(d)])
    .join('');
  return `10${exponent < 0 ? '⁻' : ''}${digits}`;
}

interface Range {
  readonly lo: number;
  readonly hi: number;
}

/** Whole decades covering the values (at least one decade). */
export function decadeRange(values: readonly number[], floor: number): Range {
  const positive = values.map((v) => Math.max(v, floor)).filter((v) => Number.isFinite(v) && v > 0);
  if (positive.length === 0) return { lo: Math.log10(floor), hi: Math.log10(floor) + 1 };
  const lo = Math.floor(Math.log10(Math.min(...positive)) + 1e-9);
  let hi = Math.ceil(Math.log10(Math.max(...positive)) - 1e-9);
  if (hi <= lo) hi = lo + 1;
  return { lo, hi };
}

function fmt(n: number): string {
  return n.toFixed(1);
}

function renderPanel(panel: ChartPanel, offsetX: number, offsetY: number): string[] {
  const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = panel.series.flatMap((s) => s.points.map((p) => p[1]));
  const xr = decadeRange(xs, 1);
  const yr = decadeRange(ys, panel.yFloor);
  const left = offsetX + MARGIN.left;
  const top = offsetY + MARGIN.top;
  const width = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const height = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number): number => left + ((Math.log10(v) - xr.lo) / (xr.hi - xr.lo)) * width;
  const y = (v: number): number => top + height - ((Math.log10(v) - yr.lo) / (yr.hi - yr.lo)) * height;
  /** Data values are clamped to the floor; grid lines are not. */
  const yData = (v: number): number => y(Math.max(v, panel.yFloor));

  const out: string[] = [];
  out.push(
    `<text x="${fmt(left + width / 2)}" y="${fmt(offsetY + 20)}" text-anchor="middle" font-size="14" font-weight="bold" ${FONT}>${escapeXml(panel.title)}</text>`,
  );
  out.push(
    `<rect x="${fmt(left)}" y="${fmt(top)}" width="${fmt(width)}" height="${fmt(height)}" fill="#ffffff" stroke="#999999"/>`,
  );
  for (let e = xr.lo; e <= xr.hi; e++) {
    const px = x(10 ** e);
    out.push(
      `<line x1="${fmt(px)}" y1="${fmt(top)}" x2="${fmt(px)}" y2="${fmt(top + height)}" stroke="#d0d0d0"/>`,
    );
    out.push(
      `<text x="${fmt(px)}" y="${fmt(top + height + 18)}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(decadeLabel(e, 0))}</text>`,
    );
    for (let k = 2; k <= 9 && e < xr.hi; k++) {
      const mx = x(k * 10 ** e);
      out.push(
        `<line x1="${fmt(mx)}" y1="${fmt(top + height)}" x2="${fmt(mx)}" y2="${fmt(top + height - 5)}" stroke="#999999"/>`,
      );
    }
  }
  for (let e = yr.lo; e <= yr.hi; e++) {
    const py = y(10 ** e);
    out.push(
      `<line x1="${fmt(left)}" y1="${fmt(py)}" x2="${fmt(left + width)}" y2="${fmt(py)}" stroke="#d0d0d0"/>`,
    );
    out.push(
      `<text x="${fmt(left - 8)}" y="${fmt(py + 4)}" text-anchor="end" font-size="12" ${FONT}>${escapeXml(decadeLabel(e))}</text>`,
    );
    for (let k = 2; k <= 9 && e < yr.hi; k++) {
      const my = y(k * 10 ** e);
      out.push(
        `<line x1="${fmt(left)}" y1="${fmt(my)}" x2="${fmt(left + 5)}" y2="${fmt(my)}" stroke="#999999"/>`,
      );
    }
  }
  out.push(
    `<text x="${fmt(left + width / 2)}" y="${fmt(top + height + 40)}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(panel.xLabel)}</text>`,
  );
  const cy = top + height / 2;
  out.push(
    `<text x="${fmt(offsetX + 16)}" y="${fmt(cy)}" text-anchor="middle" font-size="12" transform="rotate(-90 ${fmt(offsetX + 16)} ${fmt(cy)})" ${FONT}>${escapeXml(panel.yLabel)}</text>`,
  );
  for (const series of panel.series) {
    if (series.points.length === 0) continue;
    const points = series.points.map(([px, py]) => `${fmt(x(px))},${fmt(yData(py))}`).join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<polyline points="${points}" fill="none" stroke="${series.color}" stroke-width="2"${dash}><title>${escapeXml(series.name)}</title></polyline>`,
    );
    for (const [px, py] of series.points) {
      out.push(`<circle cx="${fmt(x(px))}" cy="${fmt(yData(py))}" r="3" fill="${series.color}"/>`);
    }
  }
  return out;
}

/** The chart as an SVG document. */
export function renderChart(panels: readonly ChartPanel[], options: ChartOptions): string {
  const legend = [...new Map(panels.flatMap((p) => p.series).map((s) => [s.name, s])).values()];
  const perRow = 2;
  const legendRows = Math.ceil(legend.length / perRow);
  const width = PANEL_WIDTH * panels.length;
  const height = HEADER + PANEL_HEIGHT + 12 + legendRows * LEGEND_ROW + (options.note ? 24 : 8);
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${escapeXml(options.title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    out.push(...renderPanel(panel, i * PANEL_WIDTH, HEADER));
  });
  const legendTop = HEADER + PANEL_HEIGHT + 12;
  const column = width / perRow;
  legend.forEach((series, i) => {
    const lx = (i % perRow) * column + 40;
    const ly = legendTop + Math.floor(i / perRow) * LEGEND_ROW;
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 36}" y="${ly + 4}" font-size="12" ${FONT}>${escapeXml(series.name)}</text>`,
    );
  });
  if (options.note) {
    out.push(
      `<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="11" fill="#555555" ${FONT}>${escapeXml(options.note)}</text>`,
    );
  }
  out.push('</svg>', '');
  return out.join('\n');
}
