from rest_framework.routers import DefaultRouter

from helpdesk.api.customers import CustomerViewSet, MergeViewSet, SegmentViewSet
from helpdesk.api.tickets import TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("customers", CustomerViewSet, basename="customer")
router.register("merges", MergeViewSet, basename="merge")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = router.urls
