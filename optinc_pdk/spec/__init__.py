"""What a user specifies: scenario files, device geometry, and the conventions every layer shares."""
