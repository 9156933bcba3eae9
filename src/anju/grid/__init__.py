"""Grid governance (网格化治理): communities, their red grids (红色网格) with boundaries, grid workers and
building leaders, and the public contact card of each grid."""
