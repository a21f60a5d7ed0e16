"""Why the model decided: heatmap methods in words (`registry`) and in Captum (`methods`), one explanation
per face (`attribution`), how far to trust it (`faithfulness`) and its pictures and caption (`render`)."""
