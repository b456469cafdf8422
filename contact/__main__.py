from contact.cli import main

raise SystemExit(main())
