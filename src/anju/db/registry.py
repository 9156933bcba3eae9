"""Import every domain's models so ``Base.metadata`` is complete (Alembic, tests, drift check)."""

from anju.agreement import models as agreement_models
from anju.audit import models as audit_models
from anju.campaign import models as campaign_models
from anju.compensation import models as compensation_models
from anju.db.base import Base
from anju.grid import models as grid_models
from anju.household import models as household_models
from anju.housing import models as housing_models
from anju.identity import models as identity_models
from anju.payment import models as payment_models
from anju.project import models as project_models
from anju.reporting import models as reporting_models
from anju.service_request import models as service_request_models
from anju.time_bank import models as time_bank_models  # issue #14 item 6

__all__ = [
    "Base",
    "agreement_models",
    "audit_models",
    "campaign_models",
    "compensation_models",
    "grid_models",
    "household_models",
    "housing_models",
    "identity_models",
    "payment_models",
    "project_models",
    "reporting_models",
    "service_request_models",
    "time_bank_models",
]
