"""The page shell: home page per role, navigation registry."""
