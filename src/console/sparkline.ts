/** Events per second as bars on a canvas (no library), with the same numbers as text. */
export function drawSparkline(canvas: HTMLCanvasElement, series: readonly number[]): void {
  const context = canvas.getContext("2d");
  if (context === null) return;
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const max = Math.max(1, ...series);
  const barWidth = width / series.length;
  context.fillStyle = "#1f5fbf";
  series.forEach((value, i) => {
    if (value === 0) return;
    const h = Math.max(1, (value / max) * (height - 2));
    context.fillRect(i * barWidth, height - h, Math.max(1, barWidth), h);
  });
}
