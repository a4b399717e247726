// Labels of the dispatch console and the worker view, Chinese first (static/common/i18n.js applies them).
// Vocabularies are "kind.code" keys read with term(kind, code): states, actions, flags, levels, roles,
// channels, location sources, stages, notification events and audiences.
"use strict";

addLabels({
  zh: {
    // states of a case
    "state.received": "待派遣", "state.dispatched": "已派遣", "state.in_progress": "处置中", "state.replied": "已反馈",
    "state.closed": "已结案", "state.rated": "已评价", "state.escalated": "已上报", "state.rejected": "不予受理",
    "state.reopened": "重新办理",
    // actions and events
    "action.dispatch": "派遣", "action.accept": "接单", "action.reply": "反馈", "action.verify": "核查结案",
    "action.close": "即办结案", "action.rate": "评价", "action.escalate": "上报", "action.reopen": "重办",
    "action.reject": "不予受理", "action.reroute": "重新定位", "action.reassign": "改派", "action.split": "拆分",
    "action.receive": "受理", "action.repeat": "重复来电", "action.overdue": "超期",
    // flags
    "flag.needs_location": "待定位", "flag.unassigned": "无主地块", "flag.nearest": "就近归属",
    "flag.near_boundary": "边界待确认", "flag.overdue": "超期", "flag.reported_after_close": "结案后再报",
    // levels
    "level.microgrid": "微网格", "level.grid": "网格", "level.community": "社区", "level.subdistrict": "街道",
    // people's roles and account roles
    "role.microgrid_worker": "微网格员", "role.building_chief": "楼栋长", "role.cell_leader": "党小组长",
    "role.grid_worker": "网格员", "role.admin": "管理员", "role.planner": "规划员", "role.dispatcher": "派遣员",
    "role.worker": "处置人员", "role.intake": "受理渠道", "role.viewer": "查看者", "role.system": "系统",
    // channels
    "channel.wechat": "微信小程序", "channel.hotline_12345": "12345热线", "channel.patrol": "网格巡查",
    "channel.camera": "视频监控", "channel.web": "网站", "channel.api": "接口", "channel.open311": "Open311",
    "channel.import": "历史导入",
    // how a location was found
    "source.point": "坐标", "source.building": "楼栋", "source.address": "地址", "source.none": "未定位",
    // deadline stages
    "stage.dispatch": "派遣", "stage.accept": "接单", "stage.handle": "处置", "stage.verify": "核查",
    // notifications
    "event.filed": "立案", "event.joined": "合并", "event.dispatched": "派遣", "event.escalated": "上报",
    "event.overdue": "超期", "audience.citizen": "来电人", "audience.assignee": "处置人", "audience.next_level": "上级",
    // what saving would do
    "would.join": "将合并到已有案件", "would.open": "将新立案件", "would.needs_location": "将进入待定位队列",
    // CRS
    "crs.wgs84": "WGS-84 (GPS)", "crs.gcj02": "GCJ-02 (高德/腾讯/微信)", "crs.bd09": "BD-09 (百度)",

    // page
    title: "派遣台", workerTitle: "我的工单", user: "用户", password: "密码", login: "登录", logout: "退出",
    intakeTab: "来电受理", caseTab: "案件", queue: "案件队列",
    allStates: "全部状态", toDispatch: "待派遣", inHand: "处置中", toVerify: "待核查", closedStates: "已结",
    allCategories: "全部类别", allFlags: "全部标记", overdueOnly: "仅超期", search: "搜索",
    searchQ: "案件号 / 外部编号 / 地址 / 描述", searchPhone: "来电号码", searchBuilding: "楼栋编码",
    clear: "清除", prev: "上一页", next: "下一页", pageOf: "第 {page} / {pages} 页", cases: "共 {total} 件",
    noCases: "没有符合条件的案件。", polled: "自动刷新 · {time}", pollFailed: "刷新失败：{message}",
    badgeNew: "新", badgeOverdue: "超期",
    // intake
    caller: "来电人", callerName: "姓名", callerPhone: "电话", category: "类别", channel: "渠道",
    description: "诉求描述", externalId: "工单编号", location: "位置", address: "地址",
    addressHint: "输入地址，如 民乐雅苑3栋2单元", chosenBuilding: "已选楼栋：{label}（{code}）", unchoose: "取消选择",
    coordinates: "坐标", lon: "经度", lat: "纬度", crs: "坐标系", mapHint: "或在地图上单击选点",
    preview: "核对", save: "保存立案", joinRepeat: "合并到该案件", fileNew: "新立案件", reset: "清空",
    previewStale: "信息已修改，请重新核对。", previewing: "核对中…", saving: "保存中…",
    matchedBuilding: "匹配楼栋", confidence: "可信度", parsed: "解析", door: "栋", unit: "单元", floor: "楼层",
    ownerChain: "责任链", receivers: "接收人", flags: "标记", noFlags: "无", level: "层级",
    repeatWarning: "附近已有同类未结案件 #{id}", repeatInfo: "{state} · {category} · 受理于 {at} · 已报 {reports} 次",
    savedNew: "已立案 #{id}", savedJoined: "已合并到案件 #{id}", openCase: "打开", noCandidates: "无登记接收人",
    suggestions: "地址候选", chooseCategory: "请选择类别", noLocation: "请填写地址、选择楼栋或给出坐标",
    locatedBy: "定位方式：{how}", byPoint: "坐标", byBuilding: "楼栋", byAddress: "地址文字", byNothing: "尚未定位",
    doubts: "疑点",
    // case
    state: "状态", dueAt: "本环节时限", deadlineAt: "办结时限", missedAt: "超期于", receivedAt: "受理时间",
    closedAt: "结案时间", deadlines: "时限", owners: "责任", peopleToCall: "联系人", partyCell: "党小组",
    assignment: "派遣规则", assignee: "处置人", otherReceiver: "其他接收人（部门或人员）", actions: "处置",
    action: "操作", note: "说明", reason: "理由", rating: "满意度", submit: "提交", report: "来电记录",
    callers: "来电与重复来电", photos: "照片", notifications: "通知", history: "记录", noneYet: "暂无",
    building: "楼栋", source: "来源", printWorkOrder: "打印派工单", reroute: "重新定位",
    rerouteHint: "拖动地图上的标记可重新定位；或输入楼栋编码：", rerouteBuilding: "楼栋编码", rerouteTo: "重新定位",
    rerouted: "已重新定位", refused: "被拒绝：{message}", repeatMark: "重复", firstReport: "首报",
    reportedAt: "来电时间", personId: "人员编号", noArea: "无", attempts: "尝试 {n} 次", sentAt: "已发送 {at}",
    deadAt: "发送失败 {at}", pending: "待发送", chooseAction: "选择操作",
    // work order
    workOrder: "派工单", workOrderTitle: "12345 派工单", caseNo: "案件编号", place: "地点", signature: "接收人签字",
    date: "日期", dispatcher: "派单人", print: "打印", close: "关闭", printedAt: "打印时间",
    // worker
    mine: "我的工单", back: "返回", accept: "接单", reply: "反馈", escalate: "申请上报", replyNote: "处置情况",
    escalateReason: "上报理由", noPerson: "此账号未关联人员，无法列出分派给您的工单。", refresh: "刷新",
    done: "已提交", needNote: "请填写处置情况", needReason: "请填写上报理由",
  },
  en: {
    "state.received": "to dispatch", "state.dispatched": "dispatched", "state.in_progress": "in progress",
    "state.replied": "replied", "state.closed": "closed", "state.rated": "rated", "state.escalated": "escalated",
    "state.rejected": "rejected", "state.reopened": "reopened",
    "action.dispatch": "dispatch", "action.accept": "accept", "action.reply": "reply", "action.verify": "verify",
    "action.close": "close on the spot", "action.rate": "rate", "action.escalate": "escalate",
    "action.reopen": "reopen", "action.reject": "reject", "action.reroute": "reroute", "action.reassign": "reassign",
    "action.split": "split", "action.receive": "received", "action.repeat": "repeat report",
    "action.overdue": "overdue",
    "flag.needs_location": "needs location", "flag.unassigned": "unassigned", "flag.nearest": "nearest area",
    "flag.near_boundary": "near a boundary", "flag.overdue": "overdue", "flag.reported_after_close": "reported after close",
    "level.microgrid": "micro-grid", "level.grid": "grid", "level.community": "community",
    "level.subdistrict": "subdistrict",
    "role.microgrid_worker": "micro-grid worker", "role.building_chief": "building chief",
    "role.cell_leader": "party cell leader", "role.grid_worker": "grid worker", "role.admin": "admin",
    "role.planner": "planner", "role.dispatcher": "dispatcher", "role.worker": "worker", "role.intake": "intake",
    "role.viewer": "viewer", "role.system": "system",
    "channel.wechat": "WeChat", "channel.hotline_12345": "12345 hotline", "channel.patrol": "patrol",
    "channel.camera": "camera", "channel.web": "web", "channel.api": "API", "channel.open311": "Open311",
    "channel.import": "import",
    "source.point": "point", "source.building": "building", "source.address": "address", "source.none": "none",
    "stage.dispatch": "dispatch", "stage.accept": "accept", "stage.handle": "handle", "stage.verify": "verify",
    "event.filed": "filed", "event.joined": "joined", "event.dispatched": "dispatched", "event.escalated": "escalated",
    "event.overdue": "overdue", "audience.citizen": "caller", "audience.assignee": "assignee",
    "audience.next_level": "next level",
    "would.join": "joins an open case", "would.open": "opens a new case", "would.needs_location": "waits for a location",
    "crs.wgs84": "WGS-84 (GPS)", "crs.gcj02": "GCJ-02 (AMap/Tencent/WeChat)", "crs.bd09": "BD-09 (Baidu)",

    title: "Dispatch console", workerTitle: "My cases", user: "User", password: "Password", login: "Log in",
    logout: "Log out", intakeTab: "Take a call", caseTab: "Case", queue: "Queue",
    allStates: "All states", toDispatch: "To dispatch", inHand: "In hand", toVerify: "To verify",
    closedStates: "Closed", allCategories: "All categories", allFlags: "All flags", overdueOnly: "Overdue only",
    search: "Search", searchQ: "Case no. / external id / address / text", searchPhone: "Caller's phone",
    searchBuilding: "Building code", clear: "Clear", prev: "Previous", next: "Next", pageOf: "page {page} of {pages}",
    cases: "{total} cases", noCases: "No case matches.", polled: "auto-refresh · {time}",
    pollFailed: "refresh failed: {message}", badgeNew: "new", badgeOverdue: "overdue",
    caller: "Caller", callerName: "Name", callerPhone: "Phone", category: "Category", channel: "Channel",
    description: "Description", externalId: "Work order no.", location: "Location", address: "Address",
    addressHint: "Type an address, e.g. 民乐雅苑3栋2单元", chosenBuilding: "Building chosen: {label} ({code})",
    unchoose: "Unselect", coordinates: "Coordinates", lon: "Longitude", lat: "Latitude", crs: "CRS",
    mapHint: "or click the map", preview: "Check", save: "Save case", joinRepeat: "Join that case",
    fileNew: "File a new case", reset: "Clear", previewStale: "The form changed: check again.",
    previewing: "Checking…", saving: "Saving…", matchedBuilding: "Building matched", confidence: "confidence",
    parsed: "Read as", door: "building", unit: "unit", floor: "floor", ownerChain: "Owners", receivers: "Receivers",
    flags: "Flags", noFlags: "none", level: "Level", repeatWarning: "An open case of this kind is nearby: #{id}",
    repeatInfo: "{state} · {category} · received {at} · {reports} report(s)", savedNew: "Case #{id} filed",
    savedJoined: "Joined case #{id}", openCase: "Open", noCandidates: "nobody registered",
    suggestions: "Address candidates", chooseCategory: "Choose a category",
    noLocation: "Give an address, a building or coordinates", locatedBy: "Located by: {how}", byPoint: "coordinates",
    byBuilding: "building", byAddress: "address text", byNothing: "not located yet", doubts: "Doubts",
    state: "State", dueAt: "Stage due", deadlineAt: "Final deadline", missedAt: "Missed at", receivedAt: "Received",
    closedAt: "Closed", deadlines: "Deadlines", owners: "Owners", peopleToCall: "People to call",
    partyCell: "Party cell", assignment: "Dispatch rule", assignee: "Assignee",
    otherReceiver: "Other receiver (department or person)", actions: "Actions", action: "Action", note: "Note",
    reason: "Reason", rating: "Rating", submit: "Submit", report: "Report", callers: "Callers and repeat reports",
    photos: "Photos", notifications: "Notifications", history: "History", noneYet: "none yet", building: "Building",
    source: "source", printWorkOrder: "Print work order", reroute: "Reroute",
    rerouteHint: "Drag the pin on the map to reroute, or give a building code:", rerouteBuilding: "Building code",
    rerouteTo: "Reroute", rerouted: "Rerouted", refused: "Refused: {message}", repeatMark: "repeat",
    firstReport: "first report", reportedAt: "Reported", personId: "person id", noArea: "none",
    attempts: "{n} attempt(s)", sentAt: "sent {at}", deadAt: "failed {at}", pending: "pending",
    chooseAction: "Choose an action",
    workOrder: "Work order", workOrderTitle: "12345 work order", caseNo: "Case no.", place: "Place",
    signature: "Receiver's signature", date: "Date", dispatcher: "Dispatcher", print: "Print", close: "Close",
    printedAt: "Printed",
    mine: "My cases", back: "Back", accept: "Accept", reply: "Reply", escalate: "Ask to escalate",
    replyNote: "What was done", escalateReason: "Why escalate", noPerson: "This login is tied to no person: no case can be listed as yours.",
    refresh: "Refresh", done: "Sent", needNote: "Say what was done", needReason: "Give a reason",
  },
});

// A short description of an owner area: "白石龙社区 (440309002007)".
function areaLabel(area) {
  if (!area) return t("noArea");
  return area.name ? `${area.name} (${area.code})` : String(area.code || area.id);
}

// The owner chain micro-grid → grid → community → subdistrict, as [level, area] pairs with an area.
function ownerChain(owner) {
  return ["microgrid", "grid", "community", "subdistrict"]
    .filter((level) => owner && owner[level])
    .map((level) => [level, owner[level]]);
}

// A confidence of 0…1 (or a score of 0…100) as a percentage.
function percent(value) {
  if (value === null || value === undefined) return "—";
  const number = Number(value);
  return `${Math.round(number <= 1 ? number * 100 : number)}%`;
}

// A tel: link for a phone number (its text as given, the href only digits, + and *).
function telLink(phone) {
  const a = el("a", phone);
  a.href = "tel:" + String(phone).replace(/[^0-9+*]/g, "");
  return a;
}
