"""HTML pages of the campaign, one module per page family; ``routers`` is mounted at the root."""

from anju.campaign.pages import battle_map, bigscreen, dashboard, households, teams, visits

routers = [
    teams.router,
    visits.router,
    households.router,
    dashboard.router,
    bigscreen.router,
    battle_map.router,
]
