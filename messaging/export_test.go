package messaging

// PingAll pings every socket now, as the pinger does once per pingPeriod.
func (g *Gateway) PingAll() { g.hub.each(func(c *conn) { c.ping() }) }
