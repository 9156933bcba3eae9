"""Use cases of signing (签约), one part per concern; import the package, not the parts:
``from anju.agreement import service as agreement_service``.

- ``signing``: sign a household (frozen snapshot, sign order number, schedule, stage), read
  agreements, the project's signing terms;
- ``amendments``: the "amendment may be needed" flag, amendment and cancellation requests and
  their approval by a leader;
- ``conditions``: conditional agreements (附生效条件) decided effective or void;
- ``documents``: agreement DOCX (docxtpl, editable templates) and PDF (typst);
- ``schedule``: the payment schedule (instalments) and what the payment domain may change in it;
- ``clearance``: vacating acceptance (交验空房), demolition, tenant clearance;
- ``collective``: collective rewards (集体奖励) earned when a block or the project reaches a rate.
- ``receivables``: money a household owes (应收款, e.g. a settlement difference) and its receipts.

Services never commit; every write is audited in the same transaction.
"""

from anju.agreement.service.amendment_flag import *  # noqa: F403
from anju.agreement.service.amendments import *  # noqa: F403
from anju.agreement.service.clearance import *  # noqa: F403
from anju.agreement.service.collective import *  # noqa: F403
from anju.agreement.service.conditions import *  # noqa: F403
from anju.agreement.service.desk import *  # noqa: F403
from anju.agreement.service.documents import *  # noqa: F403
from anju.agreement.service.ledger import *  # noqa: F403
from anju.agreement.service.payments_bridge import *  # noqa: F403
from anju.agreement.service.receivables import *  # noqa: F403
from anju.agreement.service.record_names import *  # noqa: F403
from anju.agreement.service.schedule import *  # noqa: F403
from anju.agreement.service.signing import *  # noqa: F403
from anju.agreement.service.tenant_clearance import *  # noqa: F403
