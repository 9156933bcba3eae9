"""Time-bank use cases, one part per concern; import the package:
``from anju.time_bank import service as time_bank_service``."""

from anju.time_bank.service.activities import *  # noqa: F403
from anju.time_bank.service.ledger import *  # noqa: F403
from anju.time_bank.service.moral import *  # noqa: F403
