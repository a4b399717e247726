// Labels of the planner page in Chinese (the default) and English. Elements carry data-i18n="key";
// planner.js calls t(key, values) for the text it writes itself.
"use strict";

const LABELS = {
  zh: {
    title: "网格规划", user: "用户", password: "密码", login: "登录", logout: "退出", community: "社区",
    open: "打开", split: "拆分", merge: "合并", move: "移动楼栋", reshape: "调整边界", draw: "绘制专属网格",
    undo: "撤销", redo: "重做", save: "保存", propose: "自动划分", giveWay: "相邻微网格让出重叠部分",
    done: "完成", lasso: "套索选择", cancel: "取消", reload: "载入对方的最新版本", tabList: "微网格",
    tabFindings: "检查", tabHistory: "历史", code: "编码", households: "户数", band: "区间", partyCell: "党小组",
    people: "人员", saveAnyway: "仍然保存", name: "名称", layer: "图层", add: "添加",
    draft: "草稿 {id} · 修订 {revision} · {steps} 步", saved: "已保存", microgrids: "微网格", within: "达标",
    under: "偏少", over: "偏多", empty: "无户", changed: "已修改", total: "总户数",
    hintSplit: "在地图上画一条穿过所选微网格的线（单击起点、终点，再单击终点结束）。",
    hintMove: "单击楼栋选择（或用套索），再单击目标微网格。已选 {n} 栋。",
    hintReshape: "拖动顶点调整边界（会吸附到相邻边界），然后点“完成”。",
    hintDraw: "在地图上画出专属网格的范围（单击各顶点，单击第一个点结束）。",
    hintLasso: "画一个多边形圈选楼栋（单击第一个点结束）。",
    selectOne: "请先单击选择一个微网格。", selectTwo: "请按住 Shift 单击选择两个或更多相邻微网格。",
    noFindings: "所改网格没有问题。", noChanges: "尚无修改。", blocking: "阻止保存", confirm: "需确认",
    findingsSummary: "{errors} 个错误，{warnings} 个警告", historyOf: "{code} 的版本", show: "显示",
    versionLine: "第 {version} 版 · {by} · {from}", savedMessage: "已保存：新建 {created}，更新 {updated}，撤销 {retired}。",
    conflict: "保存冲突：{message}", refused: "无法保存：{message}", outside: "不在您的辖区内：{message}",
    newDraft: "已打开新草稿。", resumed: "已恢复您未保存的草稿 {id}。", nothingToRedo: "没有可重做的步骤。",
    pickGrid: "网格", working: "处理中…",
  },
  en: {
    title: "Grid planner", user: "User", password: "Password", login: "Log in", logout: "Log out",
    community: "Community", open: "Open", split: "Split", merge: "Merge", move: "Move buildings",
    reshape: "Reshape", draw: "Draw specialised grid", undo: "Undo", redo: "Redo", save: "Save",
    propose: "Propose", giveWay: "Neighbours give way", done: "Done", lasso: "Lasso", cancel: "Cancel",
    reload: "Load their latest version", tabList: "Micro-grids", tabFindings: "Checks", tabHistory: "History",
    code: "Code", households: "Households", band: "Band", partyCell: "Party cell", people: "People",
    saveAnyway: "Save anyway", name: "Name", layer: "Layer", add: "Add",
    draft: "Draft {id} · revision {revision} · {steps} step(s)", saved: "saved", microgrids: "Micro-grids",
    within: "within", under: "under", over: "over", empty: "empty", changed: "changed", total: "Households",
    hintSplit: "Draw a line across the selected micro-grid (click start, end, then the end again to finish).",
    hintMove: "Click buildings to select them (or lasso), then click the micro-grid that takes them. {n} selected.",
    hintReshape: "Drag vertices (they snap to neighbouring edges), then press Done.",
    hintDraw: "Draw the specialised grid on the map (click each vertex, then the first one to finish).",
    hintLasso: "Draw a polygon around buildings (click the first point to finish).",
    selectOne: "Click a micro-grid first.", selectTwo: "Shift-click two or more bordering micro-grids.",
    noFindings: "No problem in the grids changed.", noChanges: "No change yet.", blocking: "blocks saving",
    confirm: "needs confirming", findingsSummary: "{errors} error(s), {warnings} warning(s)",
    historyOf: "Versions of {code}", show: "Show", versionLine: "version {version} · {by} · {from}",
    savedMessage: "Saved: created {created}, updated {updated}, retired {retired}.",
    conflict: "Save conflict: {message}", refused: "Cannot save: {message}",
    outside: "Outside your jurisdiction: {message}", newDraft: "A new draft is open.",
    resumed: "Your unsaved draft {id} is back.", nothingToRedo: "Nothing to redo.", pickGrid: "Grid",
    working: "Working…",
  },
};

let LANG = localStorage.getItem("gridmap.lang") || "zh";

function t(key, values = {}) {
  const text = (LABELS[LANG] && LABELS[LANG][key]) || LABELS.zh[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

function applyLabels() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.getElementById("lang").textContent = LANG === "zh" ? "English" : "中文";
  document.title = "gridmap · " + t("title");
}

function switchLanguage() {
  LANG = LANG === "zh" ? "en" : "zh";
  localStorage.setItem("gridmap.lang", LANG);
  applyLabels();
}
