"""The gRPC edge: the SubscribePush server and gateway subscriptions."""
