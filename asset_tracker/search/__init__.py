"""Search from every page: devices by tag, serial, IMEI, brand and model; batches by name."""
