"""The scanning station: technicians move devices through the workshop by scanning their codes."""
