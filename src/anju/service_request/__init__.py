"""Resident requests through the five orders (五单工作法): 居民点单 -> 组织定单 -> 部门接单 -> 党员晒单 ->
群众验单, mapped onto the city-management standard GB/T 30428, with departments, categories and their
time limits, and the Open311 GeoReport v2 view of the same requests."""
