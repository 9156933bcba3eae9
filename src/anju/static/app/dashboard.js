// Campaign dashboard (攻坚进度): the burn-up (actual, reverse-schedule plan, forecast with its band),
// block rates and concern tags, drawn with ECharts from the JSON in #dash-data[data-chart] (no
// inline script: the Content-Security-Policy allows scripts from this site only).
(function () {
  "use strict";
  const T = window.T || ((text) => text);

  const COLOURS = { signed: "#1f8a4c", vacated: "#0e7c86", plan: "#646a73", forecast: "#b8322a", band: "rgba(184,50,42,0.14)" };
  const charts = [];

  function make(id, option) {
    const el = document.getElementById(id);
    if (!el) return null;
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(Object.assign({ animation: false, textStyle: { fontFamily: "inherit" } }, option));
    el.dataset.drawn = "1";
    charts.push(chart);
    return chart;
  }

  const DAY = 86400000;

  function first(points) {
    return points.length ? points[0][0] : undefined;
  }

  // Launch to 30 days past the later of the deadline and the chosen date (a date string or undefined).
  function windowEnd(data) {
    const ends = [data.on, data.deadline].filter(Boolean).map((d) => Date.parse(d));
    if (!ends.length) return undefined;
    return new Date(Math.max.apply(null, ends) + 30 * DAY).toISOString().slice(0, 10);
  }

  function burnup(data) {
    const b = data.burnup;
    const series = [
      { name: T("累计签约"), type: "line", data: b.signed, showSymbol: false, lineStyle: { width: 3 }, color: COLOURS.signed, z: 5 },
      { name: T("累计腾空"), type: "line", data: b.vacated, showSymbol: false, lineStyle: { width: 2 }, color: COLOURS.vacated },
      { name: T("倒排计划"), type: "line", data: b.plan, showSymbol: false, lineStyle: { type: "dashed", width: 2 }, color: COLOURS.plan },
    ];
    if (b.forecast.length) {
      // The band is two stacked series: the low edge (invisible) and the band's height on top of it.
      series.push(
        { name: T("预测区间"), type: "line", data: b.low, stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, color: COLOURS.band, tooltip: { show: false } },
        {
          name: T("预测区间"), type: "line", stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, color: COLOURS.band,
          areaStyle: { color: COLOURS.band }, tooltip: { show: false },
          data: b.high.map((p, i) => [p[0], Math.max(0, p[1] - b.low[i][1])]),
        },
        { name: T("预测"), type: "line", data: b.forecast, showSymbol: false, lineStyle: { type: "dashed", width: 2 }, color: COLOURS.forecast }
      );
    }
    const marks = [{ yAxis: data.target, name: T("目标"), label: { formatter: T("目标") + " " + data.target, position: "insideEndTop" } }];
    series[0].markLine = { symbol: "none", silent: true, lineStyle: { color: "#b26a00", type: "dotted" }, data: marks };
    const lines = [{ xAxis: data.on, label: { formatter: T("截至"), position: "insideEndTop" } }];
    if (data.deadline) lines.push({ xAxis: data.deadline, label: { formatter: T("截止日"), position: "insideEndTop" } });
    series[2].markLine = { symbol: "none", silent: true, lineStyle: { color: "#9aa4b2" }, data: lines };
    make("dash-burnup", {
      color: [COLOURS.signed, COLOURS.vacated, COLOURS.plan, COLOURS.band, COLOURS.band, COLOURS.forecast],
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "" : T("{n} 户", { n: Math.round(v) })) },
      legend: { top: 0, type: "scroll", data: [T("累计签约"), T("累计腾空"), T("倒排计划"), T("预测"), T("预测区间")] },
      grid: { left: 8, right: 24, top: 44, bottom: 44, containLabel: true },
      // A forecast's band may reach far beyond the deadline: open on the campaign itself (launch to a
      // month past the later of the deadline and the chosen date) and let the slider reach the rest.
      dataZoom: [
        { type: "slider", xAxisIndex: 0, height: 18, bottom: 6, startValue: first(b.signed), endValue: windowEnd(data), labelFormatter: "" },
        { type: "inside", xAxisIndex: 0, startValue: first(b.signed), endValue: windowEnd(data) },
      ],
      xAxis: {
        type: "time",
        axisLabel: { hideOverlap: true, formatter: { year: T("{yyyy}年"), month: "{yyyy}-{MM}", day: "{MM}-{dd}" } },
      },
      yAxis: { type: "value", min: 0, max: Math.max(data.target, data.households) || null, name: T("户数"), minInterval: 1 },
      series: series,
    });
  }

  function blocks(data) {
    const b = data.blocks;
    if (!b.names.length) return;
    const el = document.getElementById("dash-blocks");
    if (el) el.style.height = Math.max(220, 70 + b.names.length * 34) + "px";
    make("dash-blocks", {
      color: [COLOURS.signed, COLOURS.vacated],
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: (items) => {
          const i = items[0].dataIndex, c = b.counts[i];
          return echarts.format.encodeHTML(b.names[i]) + "<br>" + T("签约 {done}/{all}（{rate}%）", { done: c[0], all: c[2], rate: b.signed[i] }) + "<br>" + T("腾空 {done}/{all}（{rate}%）", { done: c[1], all: c[2], rate: b.vacated[i] });
        },
      },
      legend: { top: 0, data: [T("签约率"), T("腾空率")] },
      grid: { left: 8, right: 40, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: b.names, inverse: true },
      series: [
        { name: T("签约率"), type: "bar", data: b.signed, barMaxWidth: 14, label: { show: true, position: "right", formatter: "{c}%" } },
        { name: T("腾空率"), type: "bar", data: b.vacated, barMaxWidth: 14 },
      ],
    });
  }

  function concerns(data) {
    const c = data.concerns;
    if (!c.labels.length) return;
    make("dash-concerns", {
      color: ["#b26a00", "#f0c987"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: [T("走访次数"), T("涉及户数")] },
      grid: { left: 8, right: 24, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: c.labels, inverse: true },
      series: [
        { name: T("走访次数"), type: "bar", data: c.visits, barMaxWidth: 14 },
        { name: T("涉及户数"), type: "bar", data: c.households, barMaxWidth: 14 },
      ],
    });
  }

  window.addEventListener("load", () => {
    const holder = document.getElementById("dash-data");
    if (!holder || !window.echarts) return;
    const data = JSON.parse(holder.dataset.chart);
    burnup(data);
    blocks(data);
    concerns(data);
    window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  });
})();
