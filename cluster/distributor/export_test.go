package distributor

// ForgetGateway has the backend take gateway id as gone, as when its
// heartbeats stop reaching it, while the gateway may still hear the
// backend.
func (b *Backend) ForgetGateway(id string) {
	b.gatewayGone(&peer{id: id, role: roleGateway})
}
