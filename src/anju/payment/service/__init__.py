"""Payment use cases (补偿款支付), one part per concern; import the package, not the parts:
``from anju.payment import service as payment_service``.

- ``batches``: prepare a batch from due instalments, edit, submit, approve (the overpay guard,
  two people), reject, cancel; list and read batches, the due list;
- ``due_list``: the due list filtered (block, kind, search) and paged with the filter's totals;
  a batch of everything a filter matches; editing a batch a page at a time;
- ``bank_files``: the bank file (xlsx / csv) of an approved batch and the bank's result file;
- ``funds``: a project's budget, signed, paid, due and scheduled money, per block.

Instalments belong to the agreement domain and are changed only through
``anju.agreement.service`` (payments_bridge, schedule). Services never commit; every state
change is audited in the same transaction.
"""

from anju.payment.service.bank_files import *  # noqa: F403
from anju.payment.service.batches import *  # noqa: F403
from anju.payment.service.due_list import *  # noqa: F403
from anju.payment.service.funds import *  # noqa: F403
from anju.payment.service.record_names import *  # noqa: F403
