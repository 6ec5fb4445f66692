"""sms_ws_client: an asyncio client for sms-ws-gateway (live SMS status changes and inbound SMS
with token refresh, reconnect, resume and de-duplication), and the event publisher
(``sms_ws_client.publisher``). See the package README."""

from .client import Client
from .items import ClientHandler, Filter, Item, ResumeFailed, Resumed, State, StateChanged
from .close_codes import CLOSE_ACTIONS, CLOSE_CODES, CloseAction, close_action
from .errors import AuthFailedError, BadRequestError, ForbiddenError, HistoryError, KickedError, SmsWsError
from .events import SmsEvent, SmsInboundEvent, SmsStatusEvent
from .history import BackfillResult, HistoryFilter, HistoryPage, StreamPosition

__version__ = "0.1.0"

__all__ = [
    "CLOSE_ACTIONS",
    "CLOSE_CODES",
    "AuthFailedError",
    "BackfillResult",
    "BadRequestError",
    "Client",
    "ClientHandler",
    "CloseAction",
    "Filter",
    "ForbiddenError",
    "HistoryError",
    "HistoryFilter",
    "HistoryPage",
    "Item",
    "KickedError",
    "ResumeFailed",
    "Resumed",
    "SmsEvent",
    "SmsInboundEvent",
    "SmsStatusEvent",
    "SmsWsError",
    "State",
    "StateChanged",
    "StreamPosition",
    "close_action",
]
