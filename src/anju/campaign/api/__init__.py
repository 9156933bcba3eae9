"""JSON routes of the campaign, one module per concern; ``routers`` is mounted under ``/api/v1``."""

from anju.campaign.api import battle_map, households, live, progress, teams, visits

routers = [teams.router, visits.router, households.router, progress.router, live.router, battle_map.router]
