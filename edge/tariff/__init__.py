"""Tariffs (TOML), time-of-use classification and itemised bills."""

from edge.tariff.bill import BillLine, MonthlyBill, compute_bills, format_bill
from edge.tariff.loader import builtin_tariffs, load_tariff
from edge.tariff.model import DemandCharge, Tariff

__all__ = [
    "BillLine",
    "DemandCharge",
    "MonthlyBill",
    "Tariff",
    "builtin_tariffs",
    "compute_bills",
    "format_bill",
    "load_tariff",
]
