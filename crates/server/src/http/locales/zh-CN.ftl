# The console's words for refusals, in Chinese (the default). Each message id is
# `refusal-` and the engine's refusal code; its variables are the refusal's subjects,
# already turned into the workflow's names ($item is the item's name, $owner the
# department's, $state the state's…). `bad-input` is an input the API's checks refused.

not-done = 未办理
refusal-unknown-project = 没有编号为「{ $project }」的项目。
refusal-project-exists = 项目编号「{ $project }」已被使用，请换一个编号。
refusal-unknown-version = 没有这一版本的事项流程（{ $version }）。
refusal-incomplete = 申请材料或表单尚不齐全，请按一次性告知补齐后再提交。
refusal-unknown-item = 本流程没有「{ $item }」这一事项。
refusal-not-applicable = 「{ $item }」不适用于本项目。
refusal-not-allowed = { $actor }无权{ $action }。
refusal-not-your-task = 「{ $item }」由{ $owner }办理，不是本部门的事项。
refusal-illegal-transition = 「{ $item }」当前为「{ $state }」，不能{ $action }。
refusal-already-extended = 「{ $item }」本轮已延期一次，不能再延期。
refusal-no-extension = 「{ $item }」的办理时限不允许延期。
refusal-reason-required = 请填写理由或意见。
refusal-unknown-reference = 没有这个{ $kind }：「{ $id }」。
refusal-number-required = 「{ $document }」需要文号：请填写，或由管理员为本部门设置编号规则。
refusal-bad-number = 「{ $document }」的文号不正确：{ $why }
refusal-closed = 项目已{ $status }，不能再办理。
refusal-before-record = 服务器时间早于项目最后一次记录（{ $last }），请稍后再试。
refusal-request-reused = 这张表单已提交过另一项操作，请刷新页面后重新提交。
refusal-time-out-of-range = 服务器时间（{ $at }）超出平台可计算的年份，请联系管理员。
refusal-not-assignee = 「{ $item }」现由 { $assignee } 承办，只有承办人可以办理。
refusal-not-signer = { $signer } 现在不能签署「{ $item }」的「{ $step }」环节：{ $why }
refusal-delegated = 「{ $item }」已委派给 { $to }，正等待其意见。
refusal-dependent-started = 「{ $item }」的决定不能撤回：后续事项已开始办理（{ $dependent }）。
refusal-not-upstream = 「{ $item }」不能退回至「{ $to }」：{ $why }
refusal-urged-recently = 「{ $item }」今天已催办过，请明天再催。
refusal-unknown = 未能办理（{ $code }）。
bad-input = 「{ $field }」填写有误，请检查后重新提交。
