"""A project driven through a client generated from the OpenAPI document.

Run by tests/http.rs: it generates the client with openapi-python-client (from a virtual
environment of tests/openapi/requirements.txt) into a directory, then runs

    python drive.py CLIENT_DIR BASE_URL WINDOW_TOKEN NDRC_TOKEN

which submits a project on the parallel construction workflow, reports its two early
milestones, has the development and reform commission claim and approve its filing, and
reads the project back — every call through the generated, typed functions and models.
A refusal comes back as the generated `Error` model. Prints `PASS` when every check held.
"""

import sys

sys.path.insert(0, sys.argv[1])
BASE, WINDOW, NDRC = sys.argv[2], sys.argv[3], sys.argv[4]

from client.api.department import department_approve, department_claim  # noqa: E402
from client.api.window import window_get_project, window_report_milestone, window_submit  # noqa: E402
from client.api.workflows import workflows_list  # noqa: E402
from client.client import AuthenticatedClient  # noqa: E402
from client.models import (  # noqa: E402
    ApproveRequest, CommandResponse, Error, ItemCommand, MaterialRef, Project, SubmitRequest,
    SubmitRequestForm, TaskState,
)

MATERIALS = ("business_license project_info land_redline grant_payment cadastral_survey eia_report_form "
             "energy_report soil_plan design_scheme civil_defence_plan site_plan geotech_survey "
             "construction_drawings fire_design funding_commitment safety_measures").split()

window = AuthenticatedClient(base_url=BASE, token=WINDOW)
ndrc = AuthenticatedClient(base_url=BASE, token=NDRC)

listed = workflows_list.sync(client=window)
version = next(w.version for w in listed.workflows if w.id == "construction-parallel")

form = SubmitRequestForm.from_dict({
    "project_name": "厂房", "enterprise": "某公司", "industry": "industrial", "land_supply": "grant",
    "new_construction_land": True, "floor_area": 32000, "investment": 18000, "special_fire": True,
    "eia_category": "report_form"})
submitted = window_submit.sync(client=window, body=SubmitRequest(
    request_id="gen-1", project="GEN-1", version=version, applicant="某公司", form=form,
    materials=[MaterialRef(material=m) for m in MATERIALS]))
assert isinstance(submitted, CommandResponse), submitted
for item in ("A01", "R01"):
    r = window_report_milestone.sync("GEN-1", item, client=window, body=ItemCommand(request_id=f"gen-{item}"))
    assert isinstance(r, CommandResponse), r

# A refusal is the typed Error: approving before claiming is fine, but the window may not.
refused = department_approve.sync("GEN-1", "I01", client=window, body=ApproveRequest(request_id="gen-bad"))
assert isinstance(refused, Error), refused
assert refused.error.status == "PERMISSION_DENIED", refused.error

for call, body in ((department_claim, ItemCommand(request_id="gen-claim")),
                   (department_approve, ApproveRequest(request_id="gen-approve"))):
    r = call.sync("GEN-1", "I01", client=ndrc, body=body)
    assert isinstance(r, CommandResponse), r

project = window_get_project.sync("GEN-1", client=window)
assert isinstance(project, Project), project
states = {t.item: t.state for t in project.tasks}
assert states["I01"] == TaskState.APPROVED, states
assert states["I02"] in (TaskState.READY, TaskState.WAITING), states
print("PASS")
