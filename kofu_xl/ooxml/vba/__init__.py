"""VBA projects: the MS-OVBA writer and reader and the xlwings wrapper generator."""
